"""Word and phrase banks of the demo review generator (:mod:`logreg.data.reviews.demo`).

Templates hold ``{slot}`` placeholders filled from a domain's catalog; ``{n}`` is a
small number and ``{product_noun}`` what the reviewed product is (catalog products are
``(name, noun)`` pairs). Sentiment phrases come in two kinds per polarity: ``plain`` ones use words
of their own polarity ("excellent", "waste"); ``negated`` ones carry their polarity with
a negation and a word of the other one ("not worth the money", "no complaints"), which
is what keeps the task from being a word lookup.
"""

from __future__ import annotations

PHRASES = {
    "positive": {
        "plain": [
            "it works great",
            "excellent quality",
            "I love this {product_noun}",
            "I highly recommend it",
            "very happy with this purchase",
            "it feels sturdy and well made",
            "it is easy to use",
            "the best {product_noun} I have owned",
            "worth every penny",
            "a fantastic value for the price",
            "the {part} is solid",
            "I am pleased with it",
            "it does a wonderful job",
            "I was really impressed",
            "it is perfect for my needs",
            "my new favorite {product_noun}",
            "it has been reliable every day",
            "an awesome little {product_noun}",
            "the {part} works perfectly",
            "great design and a nice finish",
        ],
        "negated": [
            "no problems so far",
            "I have not had a single problem",
            "not disappointed at all",
            "nothing cheap about it",
            "no complaints here",
            "it never feels flimsy",
        ],
    },
    "negative": {
        "plain": [
            "a complete waste of money",
            "I had to return it",
            "poor quality overall",
            "it broke after {n} weeks",
            "I am very disappointed",
            "customer service was terrible",
            "it is useless",
            "the {part} is flimsy",
            "the worst {product_noun} I have bought",
            "total junk",
            "it arrived defective",
            "it stopped working after a month",
            "I asked for a refund",
            "avoid this {product_noun}",
            "the {part} feels cheap",
            "the result is awful",
            "a horrible design",
            "the {part} fell apart",
            "returned it the next day",
            "unfortunately the {part} leaks",
        ],
        "negated": [
            "not worth the money",
            "it is not easy to clean",
            "not as sturdy as I hoped",
            "I would not recommend it",
            "not great at all",
            "the {part} is not reliable",
        ],
    },
}

TITLES = {
    "positive": [
        "Great {product_noun}",
        "Love it",
        "Excellent",
        "Highly recommended",
        "Works perfectly",
        "Best purchase this year",
        "Very happy",
    ],
    "negative": [
        "Waste of money",
        "Broke quickly",
        "Disappointed",
        "Poor quality",
        "Do not buy",
        "Returned it",
        "Junk",
    ],
    "neutral": [
        "{brand} {product_noun}",
        "My new {product_noun}",
        "Review of the {product_noun}",
        "Second one I own",
        "Gift for my {relative}",
    ],
}

NEUTRAL = [
    "I bought this {product_noun} {when}",
    "it arrived in {n} days",
    "it arrived in <{n} business days",
    "the {part} is {color}",
    "we use it {freq}",
    "my {relative} picked it up at the store",
    "the box included the {part} and a manual",
    "I compared it with the {brand} model",
    "it has a {feature}",
    "the {part} measures about {n} inches",
    "shipping took {n} days",
    'it came with a "{n}-year" warranty',
    'the manual says "{care}"',
    "I replaced the {part} once",
    "it sits next to the {product_noun} from {brand}",
    "the color matches the picture",
]

_SHARED = {
    "when": [
        "last month",
        "for my {relative}",
        "to replace an old one",
        "on sale",
        "before a trip",
        "two years ago",
    ],
    "relative": ["wife", "husband", "son", "daughter", "mother", "father", "roommate"],
    "color": ["black", "white", "silver", "red", "stainless steel", "dark gray"],
    "freq": ["every day", "a few times a week", "on weekends", "every morning"],
    "care": ["hand wash only", "keep dry", "unplug after use", "read all instructions"],
}

CATALOGS = {
    "electronics": {
        **_SHARED,
        "product": [
            ("Voltra PX-200 Wireless Headphones", "headphones"),
            ("Sonix BT5 Portable Speaker", "speaker"),
            ("Apex 6-Outlet Surge Protector", "surge protector"),
            ("Kinetic USB-C Wall Charger", "charger"),
            ("Belmont Universal Remote", "remote"),
            ("Apex AC1200 Router", "router"),
            ("Sonix Pocket AM/FM Radio", "radio"),
            ("Kinetic 64 GB SD Card", "memory card"),
        ],
        "part": [
            "cord",
            "plug",
            "power button",
            "screen",
            "battery",
            "volume knob",
            "connector",
            "case",
        ],
        "brand": ["Sonix", "Voltra", "Apex", "Belmont", "AT&T", "Kinetic"],
        "feature": [
            "built-in microphone",
            "two-year battery",
            "high-end amplifier",
            "LED display",
            "wall-mount bracket",
        ],
    },
    "kitchen_&_housewares": {
        **_SHARED,
        "product": [
            ("Calder 12-Cup Coffee Maker", "coffee maker"),
            ("Wexley Stainless Kettle", "kettle"),
            ("Hearth & Home Cast Iron Skillet", "skillet"),
            ("B&D 4-Slice Toaster", "toaster"),
            ("Cuisina\u00ae 600-Watt Blender", "blender"),
            ("Calder 8-Piece Knife Set", "knife set"),
            ("Wexley Hand Mixer", "mixer"),
            ("Hearth & Home Bamboo Cutting Board", "cutting board"),
        ],
        "part": ["lid", "handle", "blade", "base", "switch", "cord", "carafe", "bowl"],
        "brand": ["Calder", "Wexley", "Hearth & Home", "B&D", "Cuisina"],
        "feature": [
            "non-stick coating",
            "built-in timer",
            "dishwasher-safe lid",
            "stay-cool handle",
            "two-speed motor",
        ],
    },
    "books": {
        **_SHARED,
        "product": [
            ("The Long Harbor: A Novel", "novel"),
            ("Cooking for Two", "cookbook"),
            ("A Short History of Maps", "book"),
            ("Garden Basics (Second Edition)", "guide"),
        ],
        "part": ["cover", "binding", "index", "first chapter", "print"],
        "brand": ["Penbrook", "Harlow & Sons", "Quill"],
        "feature": ["large-print edition", "hard cover", "color photo section"],
    },
    "dvd": {
        **_SHARED,
        "product": [
            ("Midnight Express Line (Widescreen)", "movie"),
            ("Ocean Giants: Season One", "series"),
            ("The Quiet Valley", "movie"),
            ("Learn Yoga at Home", "dvd"),
        ],
        "part": ["disc", "case", "menu", "sound track", "picture"],
        "brand": ["Northlight", "Vista & Co", "Reelhouse"],
        "feature": ["behind-the-scenes extra", "director's commentary", "wide-screen transfer"],
    },
}

GENERIC_CATALOG = {
    **_SHARED,
    "product": [
        ("Northway Everyday Item", "item"),
        ("Acme All-Purpose Set", "set"),
        ("Q&A Starter Kit", "kit"),
    ],
    "part": ["part", "piece", "box", "cover"],
    "brand": ["Acme", "Northway", "Q&A"],
    "feature": ["two-year warranty", "built-in storage", "fold-out stand"],
}

NAMES = [
    "D. Overton",
    "Scott Park",
    "M. Alvarez",
    "Jennifer K. Lee",
    "R. Okafor",
    "Tom Becker",
    "A. Nguyen",
    "Linda Moore",
    "P. Schmidt",
    "Carlos Ruiz",
    "K. Johansson",
    "Beth Walker",
    "S. Patel",
    "Greg Hill",
    "Nina Rossi",
]

LOCATIONS = [
    "CA",
    "USA",
    "New York, NY",
    "Seattle, WA",
    "Austin, TX",
    "Chicago, IL",
    "London, UK",
    "Toronto, Canada",
    "New Jersey",
    "Portland, OR",
]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
