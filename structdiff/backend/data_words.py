"""Fact vocabularies for the synthetic training data (names, cities, products, ...)."""

FIRST = ("Alice Bob Carol Dave Eve Frank Grace Heidi Ivan Judy Karl Laura Mallory Nina Oscar Peggy Quentin Rita "
         "Sam Trudy Uma Victor Wendy Xavier Yara Zoe Hugo Lea Marco Sofia Omar Ines Yuki Chen Amir Fatima Lars "
         "Olga Pedro Ana Tom Mia Noah Emma Liam Ava Ben Chloe Dan Ella Finn Gina Hans Iris Jack Kate Leo Maya "
         "Nora Otto Paul Rosa Sara Theo Vera Will").split()
LAST = ("Smith Martin Garcia Muller Rossi Dubois Tanaka Kim Novak Silva Jensen Kowalski Ivanova Brown Lopez "
        "Schmidt Moreau Bianchi Sato Park Costa Berg Nagy Weber Fischer Wright Young Hall Stone Reed").split()
CITY = ("Lyon Paris Berlin London Tokyo Rome Madrid Lisbon Oslo Vienna Prague Dublin Zurich Geneva Milan Munich "
        "Boston Chicago Denver Austin Seattle Toronto Montreal Sydney Melbourne Osaka Seoul Delhi Mumbai Cairo "
        "Nairobi Lagos Lima Bogota Quito Santiago Warsaw Krakow Athens Porto Seville Bergen Helsinki Riga "
        "Tallinn Vilnius Bordeaux Nantes Lille Marseille Hamburg Cologne Leeds Glasgow Cork").split()
COUNTRY = ("France Germany Spain Italy Japan Canada Brazil Kenya Egypt India Norway Sweden Finland Poland Greece "
           "Portugal Ireland Austria Chile Peru Mexico Korea Australia Belgium Denmark").split()
JOB = ("engineer teacher nurse designer chef pilot lawyer farmer writer doctor baker plumber artist "
       "architect dentist analyst manager student editor musician").split()
COLOR = "red green blue black white yellow orange purple grey brown pink silver".split()
ADJ = "small large light heavy smart classic modern compact wireless portable organic vintage".split()
NOUN = ("lamp chair desk phone laptop kettle bottle backpack camera watch jacket shoes guitar bike "
        "mug pen notebook speaker monitor keyboard tent helmet").split()
GENRE = "fantasy mystery romance history science poetry thriller comedy drama horror biography travel".split()
WORD = ("river stone light shadow garden winter summer city ocean forest dream night star road fire glass "
        "silent golden hidden last first lost wild blue broken secret").split()
STATUS = "active inactive pending shipped delivered cancelled open closed".split()
WEATHER = "sunny cloudy rainy windy snowy foggy stormy clear".split()
PET = "dog cat rabbit parrot hamster turtle horse goldfish".split()
DOMAIN = "example.com mail.org inbox.net post.io web.de".split()
MONTHS = ("January February March April May June July August September October November December").split()
TAGS = "urgent new sale eco popular gift limited premium basic kids outdoor home office travel".split()
PLAN = "free pro team basic premium enterprise starter".split()
REGION = "eu-west us-east us-west ap-south eu-central sa-east".split()
# Syllables of made-up names: a value the model cannot have memorised has to be copied from the prompt.
SYLLABLE = ("ka lo mi ren dor vi sa tel nu bri an el or is ma ne ro ta li jo ve su ha pe ki go ly "
            "fa dan mar sel tor bel").split()
