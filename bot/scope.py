"""Questions next to the article's topic that it does not answer.

A health FAQ must not stretch a passage to cover a question it was not written for: "Is
ketamine safe during pregnancy?" is close in meaning to the risks section, but the risks
section says nothing about pregnancy. Each topic below names what visitors ask about
(pregnancy, doses, interactions, approval, addiction, children, personal suitability,
conditions, visits and bookings...) and the words an article would use if it covered it.
A question on a topic abstains unless the section that would answer it uses one of those
words, so a page the clinic adds later (say, on pregnancy) is answered from as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    asks: re.Pattern  # the question is about this topic
    covered_by: re.Pattern  # a passage covers it when it says one of these


def _re(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


_CONDITIONS = (
    r"schizo\w*|bipolar|manic|mania|psychosis|psychotic|adhd|add\b|autis\w*|eating disorder|anorexi\w*|"
    r"bulimi\w*|migraines?|headaches?|fibromyalgia|crps|neuropath\w*|insomnia|parkinson\w*|epilep\w*|"
    r"seizures?|dementia|cancer|diabet\w*|asthma|glaucoma|heart (?:disease|condition|problems?)|"
    r"arrhythmia|high blood pressure|hypertension|blood pressure|kidney|liver|lupus|arthritis|"
    r"tinnitus|borderline|bpd|personality disorder|alcoholism|substance use|opioid|postpartum|"
    r"ms\b|multiple sclerosis|covid|long covid|suicidal ideation"
)
_MEDICATIONS = (
    r"zoloft|sertraline|lexapro|escitalopram|prozac|fluoxetine|paxil|celexa|wellbutrin|bupropion|"
    r"effexor|cymbalta|ssris?|snris?|maois?|lithium|lamictal|lamotrigine|xanax|klonopin|valium|ativan|"
    r"benzo\w*|adderall|ritalin|vyvanse|suboxone|methadone|opioids?|opiates?|oxycodone|tramadol|"
    r"naltrexone|seroquel|abilify|gabapentin|trazodone|ambien|birth control|blood thinners?|"
    r"antidepressants?|antipsychotics?|medications?|meds|prescriptions?|supplements?"
)

_INTERACTION_CUE = (
    r"interact\w*|mix\w*|combin\w*|together|while (?:on|taking)|with my|same time|stop|quit|"
    r"(?:i'?m|i am|im) (?:currently |already |still )?(?:on|taking)|(?:currently|already|still) (?:on|taking)|i take|"
    r"come off|safe with|ok with|okay with|problems? with|(?:ok|okay|safe|fine) to take|take (?:it|ketamine|them)? ?with"
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        "pregnancy or breastfeeding",
        _re(r"\b(?:pregnan\w*|expecting a baby|trying to (?:conceive|get pregnant)|breast\s*feed\w*|nursing|lactat\w*|fertility)\b"),
        _re(r"pregnan|breast\s*feed|nursing"),
    ),
    Topic(
        "doses in numbers",
        _re(r"\b(?:mg|milligrams?|mcg|micrograms?|mg/kg|per kg|per kilo\w*|dosages?|how much ketamine|exact (?:dose|amount)|amount (?:of ketamine )?(?:administered|given|used))\b"),
        _re(r"\b\d+(?:\.\d+)?\s*(?:mg|milligram|mcg)|per kilogram|mg/kg|dosage"),
    ),
    Topic(
        "alcohol and recreational drugs",
        _re(r"\b(?:alcohol|drink(?:ing)?|drunk|beer|wine|liquor|weed|marijuana|cannabis|thc|cbd|smok\w*|vap\w*|edibles?)\b"),
        _re(r"alcohol|drink|marijuana|cannabis|smok"),
    ),
    Topic(
        "interactions with medications",
        _re(r"^(?=.*\b(?:" + _MEDICATIONS + r")\b)(?=.*\b(?:" + _INTERACTION_CUE + r"))"),
        _re(r"interact|together with|combined with|while taking"),
    ),
    Topic(
        "eating and preparing",
        _re(r"\b(?:eat|eating|food|fasting|fast (?:before|beforehand)|meal|breakfast|lunch|empty stomach|prepare|preparation|what (?:to|should i) (?:bring|wear))\b"),
        _re(r"\b(?:eat|eating|food|fasting|meals?|breakfast|prepare for|what to bring|what to wear)\b"),
    ),
    Topic(
        "approval and legal status",
        _re(r"\b(?:fda|food and drug administration|(?:is|was|been|it|fda[- ]?)\s*approved(?! by (?:my |the |your )?insur)|approved for|legal|illegal|controlled substance|schedule (?:iii|3)|off[- ]label)\b"),
        _re(r"\bfda\b|approved|legal|off-label|controlled substance"),
    ),
    Topic(
        "addiction and misuse",
        _re(r"\b(?:addict\w*|dependen\w*|habit[- ]forming|hooked|abus\w*|recreational\w*|misuse|withdrawal|tolerance|overdos\w*|party drug|get high|drug tests?|drug screen\w*|show up on)\b"),
        _re(r"addict|dependen|abuse|misuse|withdrawal|overdose|drug test"),
    ),
    Topic(
        "children and age limits",
        _re(
            r"\b(?:(?:for|give|giving|treat|treating|get|getting|receive|safe for|allowed|ok for|okay for) (?:a |my |our |your )?"
            r"(?:child|children|kids?|teens?|teenagers?|adolescents?|minors?|son|daughter|\d{1,2}[- ]?(?:year|yr)s?[- ]?olds?)|"
            r"(?:child|children|kids?|teens?|teenagers?|adolescents?|minors?|son|daughter|\d{1,2}[- ]?(?:year|yr)s?[- ]?olds?) "
            r"(?:get|have|receive|use|take|do|try|be treated)|under\s*18|age limits?|minimum age|how young|too young|too old|elderly|seniors?)\b"
        ),
        _re(r"child|\bkids?\b|teen|adolescent|minor|\bages?\b"),
    ),
    Topic(
        "other forms of ketamine",
        _re(r"\b(?:spravato|esketamine|nasal|spray|lozenges?|troche\w*|tablets?|oral|at home|home use|intramuscular)\b"),
        _re(r"spravato|esketamine|nasal|\boral\b|lozenge|troche"),
    ),
    Topic(
        "conditions the article does not name",
        _re(r"\b(?:" + _CONDITIONS + r")\b"),
        _re(r"\b(?:" + _CONDITIONS + r")\b"),
    ),
    Topic(
        "results in numbers",
        _re(r"(?:success rates?|percent\w*|\d+\s*%|statistic\w*|response rates?|what (?:are the )?(?:odds|chances)|what (?:fraction|proportion|share) of|how many (?:people|patients) (?:get better|improve|respond))"),
        _re(r"\d+\s*(?:%|percent)|success rate|response rate"),
    ),
    Topic(
        "a full course and how long relief lasts",
        _re(
            r"\b(?:full course|series|protocol|boosters?|maintenance|top[- ]?ups?|total number|"
            r"how often (?:do|will|would|should) (?:i|you|people) need|"
            r"(?:relief|benefits?|results?|improvements?) (?:last|lasts|stay|wear off|fade)|(?:last|wear off|fade)\b.*\b(?:weeks|months|years))\b"
        ),
        _re(r"series|booster|maintenance|\b\d+ infusions|weeks|months"),
    ),
    Topic(
        "where the clinic is and when it is open",
        _re(
            r"\b(?:locat\w*|(?<!email )(?<!e-mail )address|where (?:are|is) (?:you|your|the clinic|it)|which (?:city|state|town)|directions|parking|near me|"
            r"(?:opening|office|business|your) hours|hours (?:of operation|are you)|are you open|open (?:on|today|tomorrow|late|now)|"
            r"closed on|what time do you|do you close|weekends?|saturdays?|sundays?|holidays?)\b"
        ),
        _re(r"locat|address|parking|hours of|open (?:on|from|monday)|weekend"),
    ),
    Topic(
        "booking and visits",
        _re(
            r"\b(?:book\w*|(?:make|get|set up|request|cancel|reschedule|move) (?:an? |my )?(?:appointment|appt|consultation|visit)|"
            r"appointments? (?:available|availability|slots?)|schedul\w* (?:online|an?|my|one|a visit)|how (?:do|can) i (?:schedule|sign up|get started)|"
            r"sign up|wait\s?list|cancel\w*|reschedul\w*|referrals?|consultation|intake|new patients?)\b"
        ),
        _re(r"book|appointment|schedul|referral|consultation"),
    ),
    Topic(
        "the clinic's staff",
        _re(
            r"\b(?:board certified|credentials?|qualifications?|(?:your|the) (?:doctors?|nurses?|staff|providers?) (?:are|is|board|certified|qualified|licensed)|"
            r"who (?:does|performs|administers|gives|will (?:do|give|perform|administer)|is (?:doing|giving|in charge of)) (?:the |my )?(?:infusions?|treatment|iv)|"
            r"(?:done|performed|administered|given|supervised|monitored) by (?:a |an |the )?(?:doctors?|nurses?|anesthesiologists?|physicians?|psychiatrists?|staff|crnas?)|"
            r"anesthesiologists?|nurse practitioners?|crnas?)\b"
        ),
        _re(r"certified|credential|qualified|licensed|anesthesiologist"),
    ),
    Topic(
        "requests unrelated to the clinic",
        _re(r"\b(?:homework|algebra|calculus|equations?|essays?|poems?|lyrics|recipes?|jokes?|weather|forecast|bitcoin|crypto\w*|stock market|translate)\b"),
        _re(r"\b(?:homework|algebra|calculus|equations?|essays?|poems?|lyrics|recipes?|jokes?|weather|forecast|bitcoin|crypto\w*|stock market|translate)\b"),
    ),
    Topic(
        "recommending other providers",
        _re(
            r"\b(?:recommend|suggest|refer me to|know of|know (?:a|any)|find (?:me )?(?:a|an)|looking for (?:a|an))\b.{0,40}?"
            r"\b(?:therapists?|psychiatrists?|psychologists?|counsel+ors?|doctors?|physicians?|clinics?|providers?|specialists?|support groups?)\b"
        ),
        _re(r"therapist|psychiatrist|psychologist|counsel+or|support group"),
    ),
    Topic(
        "payment methods and claims",
        _re(r"\b(?:credit cards?|debit|hsa|fsa|care\s?credit|cpt|billing (?:codes?|rules?)|codes?|appeal\w*|superbill|receipts?|out[- ]of[- ]network|part [abcd])\b"),
        _re(r"credit card|\bhsa\b|\bfsa\b|\bcpt\b|appeal|superbill|out-of-network"),
    ),
    Topic(
        "recovery time",
        _re(r"\b(?:days? off|time off|back to work|return to work|recovery time|how long to recover|go to work)\b"),
        _re(r"recover|back to work|rest of the day"),
    ),
    Topic(
        "personal medical advice",
        _re(
            r"\b(?:right for me|good candidate|suit(?:able)? (?:for )?me|should i (?:stop|quit|start|take|come off|get|try|taper|skip|wean)|taper\w*|wean\w*|"
            r"safe for me|ok for me|okay for me|in my case|can i still)\b"
        ),
        _re(r"candidate|eligib|right for you|suitable"),
    ),
)


def out_of_scope(question: str, section_text: str) -> Topic | None:
    """The first topic ``question`` asks about that ``section_text`` does not cover."""
    for topic in TOPICS:
        if topic.asks.search(question) and not topic.covered_by.search(section_text):
            return topic
    return None
