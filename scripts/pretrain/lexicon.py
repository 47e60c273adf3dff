# Word lists for the procedural world the demo model learns: fictional companies in six
# sectors, what people buy from them, what goes wrong, what goes right, and what they ask.
# Every string here was written for this project (no outside text), so the corpus and the
# demo datasets can ship under the project's licence. Company names are invented on purpose:
# the model should not look like it has opinions about real firms.

SECTORS = {
    'internet': {
        'companies': [('Skylink', '@skylink'), ('Fibrenet', '@fibrenet_help'), ('Wavemobile', '@wavemobile'), ('Netlane', '@netlane')],
        'items': ['internet', 'wifi', 'router', 'broadband', 'phone signal', 'mobile data', 'landline', 'connection', 'hotspot', 'fibre line'],
        'bad': ['has been down {since}', 'keeps dropping', 'stopped working {since}', 'is painfully slow {again}', 'cuts out every evening',
                'has not worked {since}', 'dropped out {again}', 'died in the middle of my work call', 'is slower than dial up',
                'keeps going off and on', 'vanished {since}', 'is down {again}'],
        'bad_clauses': ['I was charged twice for my {item} this month', 'my bill went up {again} without any warning',
                        'the engineer never turned up {when}', 'nobody can tell me when my {item} will be fixed',
                        'I have been paying for a {item} that does not work', 'your outage map says everything is fine but my {item} is dead',
                        'you cut off my {item} by mistake', 'I have called four times about my {item} and nothing happens'],
        'good': ['is super fast now', 'has been perfect since the upgrade', 'works great {since}', 'has not dropped once {since}',
                 'is finally fast enough for gaming', 'is rock solid now'],
        'good_things': ['fixing my {item} so quickly', 'the free upgrade', 'sending an engineer the same day', 'the friendly call earlier',
                        'sorting out my {item} in ten minutes', 'the helpful chat this morning'],
        'questions': ['do you cover {town} yet?', 'how do I change my plan?', 'what is the best plan for gaming?', 'can I keep my number if I switch?',
                      'does the new router support the fast band?', 'how do I reset my {item} password?', 'when does fibre come to {town}?',
                      'can I pause my plan while I travel?'],
        'neutral': ['just switched my {item} to {company}, setting it up now', 'testing the new {item} from {company} tonight',
                    'moving house next week, booked the {item} move with {company}', 'watching the match on my {item} from {company}'],
        'staff': ['engineer', 'call centre', 'support chat', 'sales team'],
        'staff_bad': ['hung up on me', 'told me three different stories', 'was so rude to me', 'promised a call back that never came'],
    },
    'delivery': {
        'companies': [('Quickcart', '@quickcart'), ('Parcelpost', '@parcelpost'), ('Homebox', '@homebox_uk'), ('Shelfy', '@shelfy')],
        'items': ['parcel', 'order', 'package', 'delivery', 'new shoes', 'jacket', 'lamp', 'blender', 'headphones', 'phone case',
                  'sofa', 'desk chair', 'coffee machine', 'book', 'bike helmet', 'birthday present', 'kettle', 'rug'],
        'bad': ['never arrived', 'arrived broken', 'arrived damaged', 'is {duration} late', 'was left out in the rain', 'went to the wrong address',
                'came without half the parts', 'is still not here', 'was marked delivered but is not here', 'arrived {duration} late and broken',
                'came in the wrong size', 'was thrown over my fence'],
        'bad_clauses': ['I still have not got my refund for the {item}', 'you charged me for a {item} that never came',
                        'the tracking for my {item} has not moved {since}', 'your driver left my {item} with a stranger',
                        'I sent the {item} back {duration} ago and still no refund', 'my {item} has been stuck in the depot {since}',
                        'you cancelled my {item} without telling me', 'the {item} I got is not the one I ordered'],
        'good': ['arrived a day early', 'arrived today and it is perfect', 'came so fast', 'is exactly what I wanted',
                 'arrived in perfect shape', 'was delivered before lunch'],
        'good_things': ['the super fast delivery', 'replacing my {item} so quickly', 'the easy returns', 'the lovely note in my {item}',
                        'the careful packing', 'the quick refund'],
        'questions': ['do you ship to {town}?', 'when does the summer sale start?', 'can I change the colour of my {item}?',
                      'do you deliver on {day}?', 'how long do returns take?', 'is the {item} back in stock soon?',
                      'can I pick up my {item} from a locker?', 'do you sell gift cards?'],
        'neutral': ['just ordered a {item} from {company}, cannot wait', 'browsing the {company} sale for a new {item}',
                    'picked up my {item} from the {company} locker on the way home', 'my sister works at {company} now, proud of her'],
        'staff': ['driver', 'courier', 'returns team', 'customer service'],
        'staff_bad': ['threw my {item} over the gate', 'never even knocked', 'was so rude to my mum', 'ignored my emails for a week'],
    },
    'travel': {
        'companies': [('Bluejet Air', '@bluejetair'), ('Northrail', '@northrail'), ('Cityline Buses', '@citylinebus'), ('Sunway Ferries', '@sunwayferries')],
        'items': ['flight', 'train', 'bus', 'bag', 'suitcase', 'ticket', 'seat', 'booking', 'ferry', 'connection'],
        'bad': ['was cancelled {again}', 'is {duration} late', 'was lost', 'never showed up', 'was overbooked', 'left without us',
                'got moved to {day} without notice', 'was delayed {again}', 'broke down on the motorway', 'went missing at the airport'],
        'bad_clauses': ['I have been stuck at the station for {duration}', 'no one at the desk can tell us anything about our {item}',
                        'you charged me twice for one {item}', 'the {item} was so full I had to stand for {duration}',
                        'I missed my connection because your {item} was late', 'my refund for the cancelled {item} has not come',
                        'the toilets on the {item} have been broken {since}', 'you lost my {item} and nobody answers the phone'],
        'good': ['landed early', 'was right on time', 'was so comfortable', 'was quiet and clean', 'got us home early', 'had free wifi that actually worked'],
        'good_things': ['the smooth flight to {town}', 'finding my lost {item} so fast', 'the lovely crew today', 'the free upgrade to first class',
                        'holding the {item} for us', 'the quick help at the desk'],
        'questions': ['is there wifi on the {item}?', 'can I bring my bike on the {item}?', 'what time is the first {item} to {town}?',
                      'can I change my {item} to {day}?', 'how much luggage can I take?', 'do kids travel free on {day}?',
                      'is the {item} to {town} running today?', 'can I choose my seat online?'],
        'neutral': ['off to {town} with {company} today', 'just booked a trip to {town} with {company}, cannot wait',
                    'reading a book on the {company} {item} to {town}', 'first time on a {company} {item}, wish me luck'],
        'staff': ['cabin crew', 'desk staff', 'driver', 'conductor'],
        'staff_bad': ['shouted at my kids', 'laughed when I asked for help', 'was so rude to everyone', 'refused to let me on with a ticket'],
    },
    'food': {
        'companies': [('Burger Barn', '@burgerbarn'), ('Bean and Leaf', '@beanandleaf'), ('Pasta Corner', '@pastacorner'), ('Crumb Bakery', '@crumbbakery')],
        'items': ['burger', 'coffee', 'pizza', 'order', 'fries', 'sandwich', 'latte', 'salad', 'cake', 'breakfast', 'pasta', 'milkshake', 'croissant'],
        'bad': ['was stone cold', 'was missing half the order', 'took {duration} to arrive', 'was burnt', 'made me sick', 'had a hair in it',
                'was the wrong order {again}', 'tasted like cardboard', 'came without the sauce {again}', 'was tiny for the price'],
        'bad_clauses': ['I waited {duration} for one {item}', 'you charged me for two {item}s and I got one',
                        'the app took my money but the {item} never came', 'the {item} I ordered was not even cooked',
                        'your shop in {town} has been closed every time I go', 'the prices went up {again} and the {item} got smaller'],
        'good': ['was amazing', 'was the best I have had in years', 'was hot and fresh', 'was perfect {again}', 'made my day', 'was so good'],
        'good_things': ['the free {item} today', 'the new vegan menu', 'remembering my usual {item}', 'the kind staff in {town}',
                        'the best {item} in town', 'the birthday treat'],
        'questions': ['are you open on {day}?', 'do you have vegan options?', 'is the {item} gluten free?', 'do you deliver to {town}?',
                      'what time do you close on {day}?', 'can I book a table for six?', 'is the {item} back on the menu?'],
        'neutral': ['grabbing a {item} at {company} before work', 'meeting friends at {company} in {town} tonight',
                    'first {item} of the day from {company}', 'trying the new {item} at {company} later'],
        'staff': ['cashier', 'manager', 'delivery rider', 'waiter'],
        'staff_bad': ['rolled their eyes at me', 'ignored us for {duration}', 'was so rude to my friend', 'refused to fix my {item}'],
    },
    'banking': {
        'companies': [('Crestbank', '@crestbank'), ('Brightpower', '@brightpower'), ('Oakwater', '@oakwater_help'), ('Penny Savings', '@pennysavings')],
        'items': ['card', 'app', 'account', 'transfer', 'bill', 'meter', 'power', 'water supply', 'payment', 'statement', 'heating', 'direct debit'],
        'bad': ['keeps getting declined {again}', 'still has not gone through', 'has been off {since}', 'keeps crashing', 'is locked {again}',
                'was blocked for no reason', 'doubled overnight', 'is wrong {again}', 'has been broken {since}', 'failed {again}'],
        'bad_clauses': ['you took my {item} payment twice', 'I have been on hold for {duration} about my {item}',
                        'nobody will explain why my {item} went up', 'my {item} has been frozen {since} and I cannot pay rent',
                        'your app logged me out and now my {item} is locked', 'I was promised a call back about my {item} {when} and nothing'],
        'good': ['is so easy to use now', 'went through in seconds', 'is back on, thanks', 'is finally right', 'works perfectly', 'is much cheaper now'],
        'good_things': ['sorting my {item} in minutes', 'the new app', 'the patient help on the phone', 'fixing my {item} so fast',
                        'the clear {item} this month', 'the quick reply'],
        'questions': ['how do I order a new {item}?', 'can I pay my {item} online?', 'what are your opening hours on {day}?',
                      'how do I change my address?', 'is the {item} free?', 'can I get paper statements?', 'how do I add my partner to my {item}?'],
        'neutral': ['just opened a savings account with {company}', 'paying my {item} with {company} before payday',
                    'moved my {item} to {company} today', 'reading the {company} newsletter over coffee'],
        'staff': ['branch staff', 'phone team', 'advisor', 'meter reader'],
        'staff_bad': ['hung up on me twice', 'gave me the wrong advice', 'was rude and impatient', 'lost my paperwork {again}'],
    },
    'tech': {
        'companies': [('Pixelsoft', '@pixelsoft'), ('Cloudbox', '@cloudbox_help'), ('Gizmo Labs', '@gizmolabs'), ('Brightscreen', '@brightscreen')],
        'items': ['laptop', 'app', 'update', 'account', 'printer', 'tablet', 'game', 'smart watch', 'camera', 'speaker', 'charger', 'password reset'],
        'bad': ['will not turn on', 'crashes every time I open it', 'wiped all my files', 'lost all my photos', 'stopped charging', 'froze {again}',
                'broke after {duration}', 'keeps logging me out', 'made my phone so slow', 'deleted my saves'],
        'bad_clauses': ['the last update broke my {item}', 'I paid for a {item} that does not work', 'support closed my ticket without fixing my {item}',
                        'my {item} is still broken after two repairs', 'you charged me for a {item} I cancelled', 'my {item} has been stuck on the logo {since}'],
        'good': ['works like a dream', 'is so much faster now', 'is the best thing I bought this year', 'has not crashed once', 'is brilliant', 'lasts all day'],
        'good_things': ['fixing my {item} for free', 'the great update', 'the fast repair', 'the helpful video about my {item}',
                        'the new dark mode', 'getting my {item} back so quickly'],
        'questions': ['when is the next update out?', 'does the {item} work offline?', 'can I move my files to a new {item}?',
                      'is the {item} waterproof?', 'how do I turn on dark mode?', 'will the {item} come in blue?'],
        'neutral': ['setting up my new {item} from {company}', 'just downloaded the {company} beta', 'trying the {company} {item} at the shop',
                    'watching the {company} launch event tonight'],
        'staff': ['repair shop', 'support agent', 'store staff', 'help desk'],
        'staff_bad': ['wiped my {item} without asking', 'told me it was my fault', 'was so rude to me', 'kept me waiting {duration}'],
    },
}

TOWNS = ['Leeds', 'Bristol', 'York', 'Dublin', 'Glasgow', 'Cardiff', 'Bath', 'Derby', 'Hull', 'Oxford', 'Brighton', 'Norwich', 'Exeter', 'Preston',
         'Cork', 'Galway', 'Dundee', 'Chester']
DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'the weekend', 'bank holiday monday']
DURATIONS = ['two hours', 'three hours', 'three days', 'a week', '45 minutes', 'two weeks', 'ten days', 'an hour', 'five days', '90 minutes', 'a month']
SINCES = ['since monday', 'since yesterday', 'for three days', 'all weekend', 'since this morning', 'for a week', 'since friday', 'for two days', 'all day']
WHENS = ['yesterday', 'on monday', 'this morning', 'last week', 'on friday', 'today']
AGAINS = ['again', 'again', 'once more', 'for the third time', 'for the second time this week']
NAMES = ['Sam', 'Mia', 'Leo', 'Ava', 'Noah', 'Zoe', 'Omar', 'Lina', 'Ravi', 'Nora', 'Ben', 'Ines', 'Kofi', 'Ella', 'Tom', 'Priya', 'Jack', 'Amy',
         'Yusuf', 'Grace', 'Dan', 'Maya', 'Finn', 'Sara', 'Joe', 'Lucy', 'Adam', 'Hana', 'Max', 'Ruth']

# How people vent: closers after a complaint, openers before one, and what they demand.
FRUSTRATIONS = ['so annoying', 'not happy', 'really poor service', 'this is a joke', 'fed up', 'absolutely useless', 'worst service ever',
                'very disappointed', 'what a mess', 'ugh', 'seriously?', ':(', 'not good enough', 'so frustrating', 'unacceptable',
                'I am done', 'shocking', 'never again', 'awful', 'rubbish service']
OPENERS = ['unbelievable.', 'wow.', 'great, just great.', 'here we go again.', 'honestly,', 'come on,', 'really?', 'so,']
DEMANDS = ['I want my money back', 'please fix this today', 'someone call me back', 'sort it out', 'I want a refund',
           'fix it or I am leaving', 'can someone actually help?', 'I expect compensation']
ORDINALS = ['second', 'third', 'fourth', 'fifth']

# How people are pleased or simply chatty.
PRAISE = ['you are the best', 'great service', 'so happy', 'thank you so much', 'top marks', 'brilliant', 'love it', 'made my day',
          'ten out of ten', 'really impressed', ':)', 'keep it up', 'amazing team', 'well done']
NEUTRAL_CLOSERS = ['wish me luck', 'excited', 'we will see', 'fingers crossed', 'should be fun', 'lol', 'nice', 'thanks in advance']
GREETINGS = ['hi', 'hello', 'hey', 'morning', 'evening', 'hi there']
HOLIDAYS = ['new year', 'friday', 'weekend', 'birthday to the team', 'summer']

# Everyday posts that are about a topic rather than a company (the topic task and general language).
TOPICS = {
    'sports': {
        'things': ['match', 'game', 'race', 'final', 'derby', 'tennis match', 'marathon', 'training session', 'cup tie', 'cricket match'],
        'teams': ['City', 'United', 'Rovers', 'the Lions', 'the Hawks', 'Athletic', 'the Reds', 'the Blues'],
        'lines': ['what a goal in the last minute!', '{team} won {score} tonight, get in!', 'training for my first 10k run on {day}',
                  '{team} lost {score}, terrible {thing}', 'great {thing} today, {team} were on fire', 'who is watching the {thing} tonight?',
                  'ran five miles before work, legs are gone', 'our kids football team won the cup!', '{team} need a new keeper, that was painful',
                  'swimming lessons start {day}, nervous', 'the referee had a shocker in the {thing}', 'tickets for the {thing} sold out in minutes',
                  'cycled to {town} and back today, what a ride', 'yoga in the park this morning, so calm', 'penalties again, my heart cannot take it',
                  'signed up for the {town} half marathon', 'best {thing} of the season so far'],
    },
    'food': {
        'things': ['pasta', 'curry', 'pancakes', 'soup', 'banana bread', 'pizza', 'stew', 'salad', 'roast dinner', 'noodles', 'cookies', 'chilli'],
        'lines': ['made {thing} with fresh basil tonight', 'best {thing} I have ever had', 'trying a new {thing} recipe on {day}',
                  'burnt the {thing} again, takeaway it is', 'grandma makes the best {thing}', 'baking {thing} for the party tomorrow',
                  'is {thing} for breakfast ok? asking for a friend', 'the market in {town} has amazing {thing}', 'cooked {thing} for ten people, tired but happy',
                  'homemade {thing} and a film, perfect evening', 'first time making {thing}, it actually worked', 'who puts cheese on {thing}?',
                  'lunch today was {thing} from the new place in {town}', 'meal prep sunday: {thing} for the whole week'],
    },
    'weather': {
        'things': ['rain', 'snow', 'sun', 'wind', 'fog', 'storm', 'hail', 'heat', 'frost', 'thunder'],
        'lines': ['{thing} all day again in {town}', 'so hot today, 30 degrees', '{thing} is coming this weekend', 'woke up to {thing} in {town}',
                  'the {thing} knocked our fence over', 'perfect sunny day in {town}', 'forgot my umbrella, soaked from the {thing}',
                  'is this {thing} ever going to stop?', 'first frost of the year, scraping the car', 'beautiful sunset after all that {thing}',
                  'weather warning for {thing} on {day}', 'kids built a snowman before school', 'too windy to cycle to work today',
                  'foggy morning in {town}, cannot see a thing', 'thunder kept the dog up all night'],
    },
    'tech': {
        'things': ['laptop', 'phone', 'tablet', 'smart watch', 'headphones', 'keyboard', 'camera', 'console', 'robot vacuum', 'e-reader'],
        'lines': ['my new {thing} boots in five seconds', 'just updated my {thing}, the new camera is great', 'building my own {thing} this weekend',
                  'anyone know a good {thing} for students?', 'learning to code in python, wrote my first game', 'the {thing} battery lasts two days now',
                  'set up a home server on an old {thing}', 'trying the new {thing} at the shop in {town}', 'my dad finally learned to video call',
                  'dropped my {thing}, not a scratch', 'is it worth upgrading my {thing} this year?', 'wrote a script that waters my plants',
                  'the robot vacuum is scared of the cat', 'finally backed up all my photos'],
    },
}
TOPIC_LABELS = list(TOPICS)
SCORES = ['2-0', '3-1', '1-0', '4-2', '3-0', '2-1']

# Review words: the sentiment signal in reviews and stories.
REVIEW_GOOD = ['great', 'excellent', 'lovely', 'brilliant', 'fantastic', 'solid', 'superb', 'wonderful', 'reliable', 'comfortable']
REVIEW_BAD = ['terrible', 'awful', 'poor', 'disappointing', 'flimsy', 'useless', 'dreadful', 'cheap', 'broken', 'unreliable']
