"""A deterministic stream of realistic chat messages from an adult ESOL / functional-skills class.

``generate_messages(n, seed)`` returns ``n`` messages, the same ones for the same arguments on any
machine. About 85% are ordinary class traffic (greetings, homework, times, rooms, prices, exam
dates, idioms such as "this formula is killing me" that must not be flagged); about 15% contain
something the policy flags (rude words, insults, phone numbers, emails, postcodes, threats, drug
offers, safeguarding disclosures, staff moving learners onto personal accounts, ...). About 3% are
long (1 to 3 kB): homework paragraphs and rambling updates, some with a breach buried inside.

Each message is a dict ready for ``classmod check --json``: ``{"id", "text", "role"}`` plus
``"kind"`` (``"ordinary"`` or the kind of breach planted), which the check ignores.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

__all__ = ["FLAGGED_KINDS", "FLAGGED_SHARE", "LONG_SHARE", "generate_messages", "to_jsonl"]

FLAGGED_SHARE = 0.15
LONG_SHARE = 0.03
DEFAULT_SEED = 20240917

NAMES = [
    "Amina",
    "Tomasz",
    "Olena",
    "Mohammed",
    "Fatima",
    "Kasia",
    "Ahmed",
    "Precious",
    "Hassan",
    "Maria",
    "Yusuf",
    "Svitlana",
    "Daniel",
    "Ana",
    "Reza",
    "Grace",
    "Ibrahim",
    "Lina",
    "Pawel",
    "Chen",
    "Zainab",
    "Tom",
    "Sarah",
    "Karen",
    "Dave",
    "Bogdan",
    "Nour",
    "Joy",
    "Ali",
    "Irina",
]
TUTORS = ["Sarah", "Mr Jones", "Karen", "Miss Patel", "Dave", "teacher"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "tomorrow", "next week", "today"]
TIMES = ["9:30", "10am", "10:15", "half past one", "1.30pm", "2pm", "quarter to 11", "6pm", "18:30", "noon"]
ROOMS = ["room 12", "Room 204", "room B3", "the library", "room 7", "the IT suite", "Room 1.14", "the hall"]
PLACES = ["Bootle library", "the college", "Southport centre", "the Crosby hub", "the community centre"]
SUBJECTS = [
    "fractions",
    "percentages",
    "the reading test",
    "the speaking exam",
    "past tense",
    "the listening",
    "writing a formal letter",
    "the email task",
    "area and perimeter",
    "timetables",
    "the spelling list",
    "present perfect",
    "the CV task",
    "ratio",
    "the mock exam",
    "unit 3",
    "page 42",
    "the worksheet",
]
EMOJI = ["🙂", "👍", "🙏", "😂", "😅", "❤️", "👏", "🤔", "😊", "🎉", ""]
THANKS = [
    "Thank you teacher",
    "thank you so much",
    "Thanks!",
    "thx",
    "Dziękuję 🙏",
    "Спасибі",
    "شكرا جزيلا",
    "gracias",
    "Thank you, see you next week",
    "ok thank you",
]

ORDINARY: list[str] = [
    "Good morning everyone {emoji}",
    "Hello, I am {name}. Nice to meet you all",
    "Hi {tutor}, is the class in {room} {day}?",
    "Sorry I will be late {day}, my bus is late. I come at {time}",
    "What time is the class {day}? {time} or later?",
    "I can't come {day}, my son is sick. Sorry {tutor}",
    "Is the homework {subject}? I don't understand number 4",
    "Can someone explain {subject} please?",
    "{thanks} {emoji}",
    "The bus ticket is £{price} now, very expensive",
    "The book costs £{price} in the shop, do we need to buy it?",
    "I finished {subject}, it was hard but ok",
    "This formula is killing me 😂",
    "I smashed it in the test today!! {emoji}",
    "Exam is on {exam_date} at {time}, don't forget",
    "The speaking exam is {exam_date}, room {roomno}",
    "Where is {room}? I am at reception",
    "My order number is {order} but the book still not come",
    "The ISBN is {isbn} for the grammar book",
    "Can we do more practice for {subject}?",
    "I was absent {day}, what did we do?",
    "Happy birthday {name}!! {emoji}",
    "Well done everyone, great work today {emoji}",
    "Please bring a pen and your folder {day}",
    "Reminder: class finishes at {time} {day} because of the fire drill",
    "{name} you left your umbrella in {room}",
    "Is there parking at {place}?",
    "Who has the answer for question {qno}?",
    "I think the answer is {answer}",
    "50% of 80 is 40, yes?",
    "3/4 = 0.75 = 75%",
    "The train is at {time} and costs £{price} return",
    "Sorry wrong group",
    "ok",
    "👍",
    "yes",
    "me too",
    "Same, I don't understand",
    "We studied how propaganda radicalised people in the history lesson, very interesting",
    "My husband and I are going to the parents evening {day}",
    "As a Muslim I don't eat pork, is the food halal at the party?",
    "Ramadan starts soon so I may be tired in class, sorry",
    "The room is {roomno} not {roomno2}, they changed it",
    "If there is an emergency call 999, if not urgent 111",
    "Can I bring my baby to class? Childcare is closed {day}",
    "I got level 1!!! Thank you {tutor} {emoji}",
    "My daughter helped me with {subject}",
    "What page is the homework? 23 or 32?",
    "I need a letter for the job centre to say I come to class",
    "Does anyone have the link for the online test?",
    "Have a nice weekend everyone {emoji}",
    "Bomb the test haha no I am joking, I hope I pass",
    "My phone is broken so I use my sister's phone today",
    "The kettle in the kitchen is broken, tell the office",
    "my english is not good sorry for mistake",
    "i am waiting outside the door it is locked",
    "Can I do the exam in the morning? I work in the afternoon",
    "I bought 3 apples for £1.20, how much is one? 40p",
    "The reference for the course is SCLS-2024-{order}",
]

LONG_OPENERS = [
    "Dear {tutor}, this is my homework about my hometown. ",
    "Hello everyone, I want to tell you about my weekend. ",
    "Hi {tutor}, sorry for the long message but I need to explain why I missed the class. ",
    "This is my writing task, the title is My Dream Job. ",
]
LONG_SENTENCES = [
    "I was born in a small town near the sea and I lived there for twenty years with my family.",
    "Every morning my mother made bread and we ate it with cheese, olives and sweet tea.",
    "When I came to England the weather was very cold and I did not understand anyone at the bus stop.",
    "Now I live in Bootle with my husband and my two children, who go to the primary school near us.",
    "On Saturday we went to the park and my son played football with his friends for three hours.",
    "In the evening we cooked rice and chicken and my neighbour came for dinner with her daughter.",
    "I want to be a nurse because I like helping people and I worked in a hospital in my country.",
    "First I need to pass English level 1 and maths level 1, then I can apply for the access course.",
    "The course starts in September and it is two days a week at the college in Southport.",
    "My husband works in a warehouse and sometimes he works nights so I look after the children.",
    "I practise English every day with the radio and I read the free newspaper on the train.",
    "Sometimes I feel shy to speak because I make mistakes, but my tutor says mistakes are normal.",
    "Last week I went to the doctor on my own for the first time and I explained my problem in English.",
    "The receptionist was very kind and she spoke slowly, so I understood everything she said.",
    "My favourite food in England is fish and chips but my children prefer pizza.",
    "I missed the class on Tuesday because my daughter had a fever and I had to stay at home with her.",
    "The bus from my house to the centre takes forty minutes and the ticket is three pounds twenty.",
    "In my country I was a teacher of mathematics, so I like the maths class very much.",
    "I hope next year I can get a better job and maybe help other people who are new in this country.",
    "Thank you for reading my homework, please tell me if the grammar is wrong.",
]

# (kind, role, templates) for messages the policy flags.
FLAGGED: list[tuple[str, str, list[str]]] = [
    (
        "profanity",
        "learner",
        [
            "this homework is fucking hard",
            "oh shit I forgot my folder again",
            "bloody hell the bus is late AGAIN",
            "wtf is this question",
            "f*ck the exam is tomorrow",
            "sh1t sh1t sh1t I missed it",
        ],
    ),
    (
        "insult",
        "learner",
        [
            "{name} you are so stupid",
            "shut up {name} nobody asked you",
            "ur an idiot {name}",
            "Y O U  A R E  A  L O S E R",
            "you're useless {name}, you never do the homework",
            "{name} is a stupid cow",
        ],
    ),
    (
        "phone",
        "learner",
        [
            "my number is 07700 900{d3} text me for the homework",
            "call me on 0151 496 0{d3} after 5",
            "{name} whatsapp me 07{d3} {d3}{d3}",
            "text me +44 7911 123{d3}",
            "my mobile is oh seven seven double oh nine double oh {spoken}",
        ],
    ),
    (
        "email",
        "learner",
        [
            "send it to {lower}.{lower2}@gmail.com please",
            "my email is {lower}{d2} (at) hotmail (dot) co (dot) uk",
            "email me {lower}@yahoo.com",
        ],
    ),
    (
        "postcode",
        "learner",
        [
            "I live at 14 Stanley Road, L20 3{d1}AB, come for tea",
            "my address is 22 Church Street Bootle L20 {d1}XY",
            "the party is at my house, postcode PR8 {d1}QW",
        ],
    ),
    (
        "threat",
        "learner",
        [
            "{name} I'm going to batter you after class",
            "watch your back {name}",
            "i know where you live {name}",
            "I will find you and hurt you",
        ],
    ),
    (
        "drugs",
        "learner",
        [
            "anyone want some weed after class",
            "I can sort you with pills for the weekend",
            "lets all get high before the exam lol",
            "hit me up for ket, cheap",
        ],
    ),
    (
        "safeguarding",
        "learner",
        [
            "I don't want to be alive anymore, I can't do this",
            "my husband hits me when I come home late from class",
            "I'm scared to go home tonight",
            "sometimes I think about ending it all",
        ],
    ),
    (
        "staff_personal_accounts",
        "tutor",
        [
            "add me on my personal facebook, we can chat more there",
            "message me on whatsapp on my private number {name}",
            "lets continue this on snapchat, don't tell the office",
            "check out my personal instagram for photos of the trip",
        ],
    ),
    (
        "defamation",
        "learner",
        [
            "this college is a joke, total waste of time",
            "the tutor is useless and lazy",
            "everyone knows {name} is on drugs",
        ],
    ),
    (
        "hostility",
        "learner",
        [
            "all immigrants should go back, they are taking our jobs",
            "go back to your own country {name}",
        ],
    ),
    (
        "sexual",
        "learner",
        [
            "send me nudes {name}",
            "{name} you look so sexy today",
        ],
    ),
]


def _fill(rng: random.Random, template: str) -> str:
    name = rng.choice(NAMES)
    values: dict[str, Callable[[], str]] = {
        "name": lambda: name,
        "tutor": lambda: rng.choice(TUTORS),
        "day": lambda: rng.choice(DAYS),
        "time": lambda: rng.choice(TIMES),
        "room": lambda: rng.choice(ROOMS),
        "place": lambda: rng.choice(PLACES),
        "subject": lambda: rng.choice(SUBJECTS),
        "emoji": lambda: rng.choice(EMOJI),
        "thanks": lambda: rng.choice(THANKS),
        "price": lambda: f"{rng.randint(1, 40)}.{rng.choice(['00', '20', '50', '99', '75'])}",
        "exam_date": lambda: f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/202{rng.randint(4, 6)}",
        "roomno": lambda: str(rng.randint(1, 320)),
        "roomno2": lambda: str(rng.randint(1, 320)),
        "order": lambda: str(rng.randint(10_000_000, 99_999_999)),
        "isbn": lambda: rng.choice(["978-0-19-442089-6", "9781107480537", "978 0 521 53289 1"]),
        "qno": lambda: str(rng.randint(1, 20)),
        "answer": lambda: rng.choice(["B", "24", "£12.60", "0.25", "false", "the second one", "45 cm²"]),
        "d1": lambda: str(rng.randint(0, 9)),
        "d2": lambda: f"{rng.randint(0, 99):02d}",
        "d3": lambda: f"{rng.randint(0, 999):03d}",
        "lower": lambda: name.lower(),
        "lower2": lambda: rng.choice(NAMES).lower(),
        "spoken": lambda: " ".join(
            rng.choice(["one", "two", "three", "four", "five", "six"]) for _ in range(3)
        ),
    }
    out = template
    for key, make in values.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, make(), 1)
    return out.strip()


def _vary(rng: random.Random, text: str) -> str:
    """Light, realistic noise: casing, trailing punctuation, the odd emoji."""
    roll = rng.random()
    if roll < 0.15:
        text = text.lower()
    elif roll < 0.2:
        text = text.upper()
    if rng.random() < 0.2:
        text += rng.choice(["!", "?", "...", " 🙂", " pls", " thanks"])
    return text


def _long_message(rng: random.Random, planted: str | None) -> str:
    target = rng.randint(1000, 2800)
    parts = [_fill(rng, rng.choice(LONG_OPENERS))]
    size = len(parts[0])
    sentences: list[str] = []
    while size < target:
        sentence = rng.choice(LONG_SENTENCES)
        sentences.append(sentence)
        size += len(sentence) + 1
    if planted is not None:
        sentences.insert(rng.randint(0, len(sentences)), planted)
    return parts[0] + " ".join(sentences)


def generate_messages(n: int = 1000, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Return ``n`` messages, deterministic for a given ``seed``.

    Exactly ``round(n * FLAGGED_SHARE)`` carry a planted breach and ``round(n * LONG_SHARE)`` are
    1 to 3 kB long; both sets are spread through the stream at seeded positions.
    """
    rng = random.Random(seed)
    positions = list(range(n))
    rng.shuffle(positions)
    flagged_at = set(positions[: round(n * FLAGGED_SHARE)])
    rng.shuffle(positions)
    long_at = set(positions[: round(n * LONG_SHARE)])
    messages: list[dict[str, Any]] = []
    for index in range(n):
        role = "tutor" if rng.random() < 0.06 else "learner"
        kind = "ordinary"
        planted: str | None = None
        if index in flagged_at:
            kind, role, templates = rng.choice(FLAGGED)
            planted = _fill(rng, rng.choice(templates))
        if index in long_at:
            text = _long_message(rng, planted)
        elif planted is not None:
            text = planted
        else:
            text = _vary(rng, _fill(rng, rng.choice(ORDINARY)))
        messages.append({"id": index + 1, "text": text, "role": role, "kind": kind})
    return messages


def to_jsonl(messages: list[dict[str, Any]]) -> str:
    """The messages as ``classmod check --json`` input: one JSON object a line (``kind`` dropped)."""
    import json

    return "".join(
        json.dumps({"id": item["id"], "text": item["text"], "role": item["role"]}, ensure_ascii=False) + "\n"
        for item in messages
    )


FLAGGED_KINDS: tuple[str, ...] = tuple(kind for kind, _, _ in FLAGGED)
