"""The floor of the crisis check: sure signs of suicide or self-harm risk.

These patterns never decide that a message is *not* a crisis; the learned model
(:mod:`bot.safety.model`) does the recognising. They stay for two reasons: the API reads them
before the model is loaded (a crisis message is answered while the bot starts, and is never
refused by the rate limit), and a message they match needs no model to be sure of.

A pattern stays here only while it matches no look-alike of the training collection
(``training/crisis/``: idioms, suicide as a subject, accidents, a resolved past, ...):
``tests/test_safety.py`` holds every one to that. A form people use that these miss is the
model's to learn, from more data, not a new pattern's.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.ingest.text import normalize

_ME = r"(?:my\s*self|myself|my\s+own\s+life|my\s+life)"
_PATTERNS = [
    # The visitor's own wish to die or suicidal state, said in the first person (and never of
    # the past: "I was suicidal years ago" is a look-alike).
    r"\bi\s+(?:just\s+|really\s+|honestly\s+|kinda\s+|still\s+)?(?:want|wanna|wish)\s+(?:to\s+)?(?:die|be\s+dead)\b",
    r"\b(?:i'?m|i\s+am|feeling|getting)\s+(?:so\s+|really\s+|very\s+|kinda\s+|pretty\s+|a\s+bit\s+|more\s+)?su+i?c+i+d+(?:a|e)l\b",
    r"\b(?:i'?m|i\s+am|been|keep|still)\s+having\s+(?:daily\s+|constant\s+|more\s+|bad\s+)?su+i?c+i+d+(?:a|e)l\s+(?:thoughts|urges|feelings)\b|"
    r"^\s*having\s+su+i?c+i+d+(?:a|e)l\s+(?:thoughts|urges|feelings)\b",
    r"\bkill(?:ing|ed)?\s+" + _ME,
    r"\bk\s*m\s*s\b",
    r"\b(?:want|wish|need)\s+(?:someone\s+|somebody\s+|you\s+)?to\s+kill\s+me\b",
    r"\bwish\s+i\s+(?:was|were|could\s+be)\s+dead\b",
    r"\bwish\s+i\s+(?:had\s+never\s+been\s+born|wasn'?t\s+(?:alive|here|born))\b",
    r"\b(?:don'?t|do\s+not|dont|no\s+longer)\s+want\s+to\s+(?:live|be\s+(?:alive|here)|exist|wake\s+up|go\s+on|keep\s+going)\b",
    r"\b(?:not|never)\s+wake\s+up\b",
    # Someone else at risk ("my son told me he wants to die"): a worried parent or friend
    # needs the same numbers (988 takes calls about someone else).
    r"\b(?:no|(?:don'?t|dont|do\s+not|can'?t|cant|cannot)\s+see\s+(?:a|any|the))\s+(?:reason|point|purpose)\s+(?:to|in|for|of)\s+"
    r"(?:live|living|wake|waking|go(?:ing)?\s+on|keep(?:ing)?\s+going|be(?:ing)?\s+(?:alive|here)|life|anything|tomorrow)\b",
    r"\b(?:what'?s|whats|what\s+is)\s+the\s+point\s+(?:of\s+(?:living|life|going\s+on|anything|it\s+all)|in\s+(?:living|life|going\s+on)|anymore)\b",
    r"\bbetter\s+off\s+(?:dead|without\s+(?:me|him|her|them))",
    # Giving belongings away is a warning sign, for oneself or someone else.
    r"\b(?:giv(?:e|es|ing|en)|gave)\s+(?:away\s+)?(?:all\s+(?:of\s+)?)?(?:my|his|her|their)\s+(?:things|stuff|belongings|possessions|pets?|cat|dog|jewelry|jewellery|clothes)\s+away\b|\bgiv(?:e|es|ing|en)\s+away\s+(?:all\s+)?(?:of\s+)?(?:my|his|her|their)\s+(?:things|stuff|belongings|possessions|jewelry|jewellery|clothes|pets?)\b",
    # Typos of cutting (cuttng, cuting) and harming oneself.
    r"\bcut+(?:i?n?g|s)?\s+(?:my\s*self|myself|him\s*self|her\s*self|them\s*selves)\b",
    r"\b(?:life|living)\s+(?:is|isn'?t|feels)\s+(?:not\s+)?(?:worth\s+living|pointless|meaningless)\b",
    r"\bnot\s+worth\s+living\b",
    r"\b(?:thinking\s+(?:about|of)|want\s+to|going\s+to|gonna|plan(?:ning)?\s+to|might)\s+(?:overdos\w*|od\b)",
    r"\b(?:take|taking|swallow\w*)\s+(?:all\s+(?:of\s+)?(?:my|the|them|these|those)|them\s+all|the\s+whole\s+(?:bottle|pack))\b",
    r"\b(?:pills?|meds)\s+(?:saved|stockpiled|stashed|hoarded)|(?:saved|stockpil\w*|hoard\w*|stash\w*)\s+(?:up\s+)?(?:(?:my|his|her|their)\s+)?"
    r"(?:pills|meds|medication|morphine|oxy\w*|opioids|insulin|sleeping\s+pills|tablets|\w+pam)\b",
    r"\btook\s+(?:too\s+many|a\s+bunch\s+of|all\s+(?:my|the))\s+(?:pills|tablets)\b",
    r"\b(?:hang|shoot|drown|stab|poison)(?:s|ing)?\s+(?:him|her|them)sel(?:f|ves)\b",
    # "everyone would be better off if I just wasn't around"
    r"\bbetter\s+off\s+if\s+(?:i|he|she|they)\s+(?:just\s+|simply\s+)?(?:(?:wasn'?t|weren'?t|wasnt|werent|was\s+not|were\s+not)\s+"
    r"(?:here|around|alive|in\s+the\s+picture)|(?:was|were)\s+(?:gone|dead)|died|disappeared|never\s+existed|had\s+never\s+been\s+born)\b",
    r"\bjump\s+(?:off|from|in\s+front)\b",
    r"\b(?:want\s+to\s+)?(?:dis+ap+e+a?r\w*|vanish)\s+(?:for(?:ever|\s+good))\b|\b(?:want|wanna|wanting)\s+to\s+(?:disappear|vanish|not\s+exist|sleep\s+forever|stop\s+existing)\b",
    r"\b(?:want|need)\s+(?:it|everything|it\s+all|all\s+of\s+(?:it|this)|life|my\s+life)\s+to\s+(?:stop|end)\b(?:.{0,20}\b(?:forever|for\s+good|permanently))?",
    r"\b(?:sleep|stop)\s+forever\b",
    r"\b(?:i'?m|i\s+am|feel\s+like)\s+(?:such\s+)?a\s+burden\b",
    r"\bno\s+way\s+out\b",
    r"\b(?:won'?t|wont)\s+be\s+(?:around|here|alive)\s+(?:by|after|past|next|much|longer|anymore|any\s+more|for\s+long)\b",
    r"\b(?:if|when)\s+i(?:'m|\s+am|\s+was|\s+were)?\s+(?:gone|dead)\b",
    r"\b(?:done|finished)\s+with\s+(?:life|living|everything|it\s+all)\b",
    r"\bgive\s+up\s+on\s+(?:life|living|everything)\b",
    r"\b(?:nobody|no\s+one|noone)\s+(?:would|will)\s+(?:miss|care|notice)\b",
    r"\bgoodbye\s+(?:forever|cruel\s+world|everyone)\b",
    # Slang and misspellings people use online.
    r"\b(?:want|wanna|wnat|going)\s+(?:to\s+)?dye\b(?!\s+(?:my|your|her|his|the|it|them))",
    r"\b(?:don'?t|dont|do\s+not)\s+(?:want|wanna|wana)\s+(?:to\s+)?live\b",
    # Self-harm in its other forms (and the common one-t typo of cutting).
    r"\b(?:been|started|start|keep|kept)\s+cutt?ing\b|\bcutt?ing\s+(?:again|agian)\b|\brelaps\w*\s+(?:on|into)\s+(?:cutting|self)",
    r"\b(?:do|doing|did)\s+something\s+to\s+(?:myself|herself|himself|themselves)\b",
    r"\bscared\s+(?:of\s+)?what\s+i\s+(?:might|will|could)\s+do\b",
    # Means, plans and goodbyes.
    r"\b(?:pills|tablets)\b.{0,40}\b(?:lined\s+up|in\s+front\s+of\s+me|counted\s+out|on\s+the\s+table)|\bgun\b.{0,30}\b(?:loaded|in\s+my\s+(?:hand|mouth))",
    r"\busing\s+it\s+on\s+myself\b",
    r"\bsav(?:e|es|ed|ing)\s+(?:up\s+)?(?:(?:my|his|her|their|all\s+(?:my|his|her|their))\s+)?(?:pills|meds|medications?|tablets|sleeping\s+pills|painkillers)\b",
    r"\bsa(?:id|ying|ys|y)\s+goodbye\s+to\s+(?:all\s+(?:of\s+)?)?(?:everyone|everybody|(?:my|his|her|their)\s+(?:friends|family|kids|children|parents))\b",
    r"\b(?:took|taken|swallowed)\s+(?:a\s+(?:whole\s+|huge\s+|big\s+)?(?:bunch|lot|handful)|all|too\s+many|the\s+whole)\b.{0,30}\b(?:pills|tablets|meds)\b",
    r"\b(?:took|taken|swallowed)\b.{0,40}\b(?:pills|tablets|meds)\b.{0,40}\b(?:on\s+purpose|deliberately|intentionally)\b",
    r"\b(?:enough|would\s+it\s+take|it\s+would\s+take)\s+to\s+(?:die|not\s+wake\s+up|stop\s+my\s+heart|be\s+over|end\s+it)\b",
    r"\b(?:need|want|wants)\s+(?:it\s+all|everything)\s+to\s+be\s+over\b|\b(?:need|want|wants)\s+it\s+to\s+be\s+over\s*[.!]*$",
    r"\b(?:suicide|death)\s+pact\b|\bpact\s+to\s+(?:die|end)",
    r"\b(?:a|the)\s+plan\s+and\s+a\s+date\b|\bknow\s+(?:exactly\s+)?how\s+i(?:'ll|\s+will|\s+would)\s+do\s+it\b",
    r"\b(?:standing|sitting)\s+on\s+(?:the|a|my)\s+(?:roof|ledge|bridge)\b",
    r"\bmy\s+(?:last|final)\s+message\b|\bsee\s+you\s+(?:all\s+)?on\s+the\s+other\s+side\b|\baffairs\s+in\s+order\b",
    r"\b(?:goodbye|suicide)\s+(?:note|letters?)\b|\b(?:wrote|written|writing|left)\s+(?:a\s+)?(?:notes?|letters?)\s+(?:to|for)\s+(?:my\s+)?(?:kids|children|family|wife|husband|parents|partner)\b",
    r"\b(?:rather|better)\s+be\s+dead\b|\bonly\s+way\s+out\s+is\s+(?:to\s+)?(?:die|death|not\s+be|suicide|end)|\btaking\s+up\s+space\b",
    r"\b(?:world|everyone|everybody|they)\s+would\s+be\s+(?:better|lighter|happier)\s+(?:off\s+)?without\s+me\b",
    r"\b(?:hope|hoping|wish)\s+(?:a|the|some)\s+(?:truck|car|bus|train)\s+(?:hits|would\s+hit|will\s+hit)\s+me\b",
    r"\b(?:hoping|hope)\s+(?:it|this)\s+kills\s+me\b|\bdon'?t\s+care\s+if\s+(?:it|this)\s+kills\s+me\b",
    r"\b(?:won'?t|wont|not\s+gonna|not\s+going\s+to|don'?t\s+think\s+i'?ll)\s+(?:make\s+it\s+(?:past|through)\b|be\s+(?:around|here|alive)\s+(?:much\s+longer|anymore|for\s+long|next\s+(?:week|month|year)))",
    r"\bready\s+to\s+(?:let\s+go|die|go)\s+(?:for\s+good|forever)\b|\btired\s+of\s+(?:living|being\s+alive)\b",
    r"\bi\s+can'?t\s+(?:anymore|any\s+more|do\s+it\s+anymore)\s*[.!]*$|^\s*i\s+cant\s+anymore\b",
    r"\bwish(?:es)?\s+(?:she|he|they|i)\s+(?:wouldn'?t|would\s+not|wouldnt)\s+wake\s+up\b",
    r"\b(?:take|taking|swallow\w*)\s+all\s+of\s+(?:it|them)\s+at\s+once\b",
    r"\b(?:she'?s|he'?s|they'?re|she\s+is|he\s+is|i'?m|i\s+am)\s+cutting\b(?!\s+(?:costs?|back|down|prices?|hair|out|my|the|it|on|expenses|corners))",
    # Abbreviations people use for suicidal ideation and self-harm ("SI every day", "relapsed on sh").
    r"\bsi\b(?=\s+(?:every\s*day|daily|thoughts?|again|is\s+back|worse|getting\s+worse))",
    r"\boff(?:ing)?\s+(?:my\s*self|myself)\b",
    # Means, places and timing.
    r"\b(?:gun|pistol|rifle|revolver)\b.{0,40}\b(?:in\s+my\s+lap|to\s+my\s+head)\b|\beat(?:ing)?\s+(?:my|his|her|their)\s+gun\b",
    r"\bnoose\b",
    r"\bin\s+(?:my|the)\s+car\s+in\s+the\s+garage\b|\bgarage\b.{0,30}\bengine\s+running\b|\bengine\s+running\b.{0,30}\bgarage\b",
    r"\b(?:walk(?:ing)?|step(?:ping)?|jump(?:ing)?)\s+(?:in(?:to)?|in\s+front\s+of)\s+(?:traffic|a\s+(?:train|truck|bus))\b",
    r"\b(?:driv(?:e|ing)|crash(?:ing)?|swerv(?:e|ing)|steer(?:ing)?)\s+(?:my\s+car\s+)?(?:into|off)\s+(?:(?:a|an|the)\s+)?(?:tree|wall|bridge|cliff|overpass)\b",
    r"\b(?:plan(?:ning)?|going|want|ready)\s+to\s+jump\b(?!\s+(?:in\b|into|on\b|start|back|right|ahead|the\s+queue|through))",
    r"\bi'?m\s+on\s+the\s+(?:roof|ledge|bridge)\b|\bheading\s+to\s+the\s+(?:cliffs?|bridge)\b",
    r"\b(?:took|taken|swallowed|downed)\s+(?:a|the|her|his|my)\s+(?:whole|entire)\s+(?:bottle|pack|box|packet)\b",
    r"\b(?:thinking\s+(?:about|of)|want\s+to|going\s+to)\s+(?:tak(?:e|ing)|swallow\w*)\s+(?:all|the\s+whole|every)\b",
    r"\bsav(?:ing|ed)\s+up\s+(?:my\s+)?(?!money|cash|for\b)\w+\b.{0,40}\benough\b",
    r"\bpainless\b.{0,25}\bdie\b|\bdie\b.{0,25}\bpainless\b|\b(?:painless|quick|quickest|easiest|best)\s+ways?\s+to\s+(?:die|go|end\s+it)\b",
    r"\bwhoever\s+finds\s+me\b",
    r"\b(?:already\s+decided|made\s+up\s+my\s+mind)\b.{0,60}\b(?:date|plan)\b",
    # Holding on, disappearing, not waking up, not making it.
    r"\b(?:don'?t|dont|do\s+not)\s+think\s+i\s+want\s+to\s+(?:live|be\s+(?:alive|here)|exist|wake\s+up|keep\s+living)\b",
    r"\b(?:don'?t|dont|do\s+not|can'?t|cant)\s+see\s+myself\s+(?:making\s+it|being\s+(?:here|around|alive)|living)\b",
    r"\bwon'?t\s+need\b.{0,30}\bwhere\s+i'?m\s+going\b",
    r"\b(?:would|'d|will)\s+be\s+(?:fine|okay|ok)\s+without\s+(?:me|him|her)\b",
    # Self-harm described, of oneself or someone else.
    r"\bcuts\s+(?:all\s+)?(?:over|on)\s+(?:my|her|his|their)\s+(?:\w+\s+)?(?:arms?|thighs?|wrists?|legs?|stomach)\b",
    r"\bi\s+(?:just\s+)?(?:don'?t|dont|won'?t|wont)\s+wake\s+up\b(?!\s+(?:during|in\s+the\s+middle|before|mid|halfway))",
    r"\b(?:dose|amount|much|many)\b.{0,30}\bwould\s+be\s+(?:lethal|fatal|deadly)\b",
    r"\bsee\s+(?:a|any|the)\s+(?:reason|point)\s+(?:to|in)\s+keep(?:ing)?\s+(?:living|going)\b",
    r"\bthinking\s+(?:about|of)\s+how\s+(?:i|to)\s+(?:would\s+|will\s+|could\s+|might\s+)?do\s+it\b",
    r"\bgoodbye\b.{0,40}\bthanks?\s+for\s+everything\b|\b(?:thanks?|cheers)\s+for\s+everything\b.{0,30}\bgoodbye\b|\bsaid\s+(?:my|our|his|her)\s+goodbyes\b",
    r"\bi\s+cut\s+(?:again|deeper)\b",
    r"\b(?:can'?t|cant)\s+wait\s+to\s+(?:be\s+dead|die)\b",
    r"\bhop(?:e|ing)\s+(?:i|to)\s+crash\b",
    r"\bthis\s+is\s+the\s+end\b(?!\s+of)",
    r"\b(?:walk(?:ing)?|wad(?:e|ing))\s+into\s+the\s+(?:sea|ocean|river|lake)\b",
]
_CRISIS = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
# An injury by accident ("my kid cut himself on a rusty nail", "I burned myself on the
# stove", "cut myself shaving"): left out before the patterns are read, so the rest of the
# message still counts. "on purpose" and "with a lighter" are not accidents.
_ACCIDENT = re.compile(
    r"\b(?:cut|cuts|burn(?:ed|t|s)?|hurt|hurts|scratch(?:ed|es)?|scraped?|scrapes|stab(?:bed|s)?)\s+"
    r"(?:my\s*self|him\s*self|her\s*self|them\s*sel(?:f|ves))\s+"
    r"(?:on\s+(?:a|an|the|some)\b(?!\s+(?:\w+\s+)?(?:arms?|wrists?|legs?|thighs?|stomach|skin|hands?|face|chest|neck|body|hips?|ankles?)\b)|(?:while|when)\s+\w+ing\b|shaving\b|cooking\b|accidentally\b|by\s+accident\b)",
    re.IGNORECASE,
)


@lru_cache(maxsize=1024)  # the API checks a message before the bot does; same answer twice
def sure_sign(message: str) -> bool:
    """True when ``message`` holds a sure sign of suicide or self-harm risk."""
    text = re.sub(r"\s+", " ", normalize(message).lower().replace("'", "'"))
    return bool(_CRISIS.search(_ACCIDENT.sub(" ", text)))

