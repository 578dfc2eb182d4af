"""How people ask in English, whatever the clinic: two small tables.

- ``PHRASES``: real words typed for others, which a spelling check cannot catch.
- ``VAGUE``: words that carry no topic of their own ("actually", "stuff", "normal"): a
  question is not unanswered because the pages never say "stuff".

What a clinic's visitors call its topics ("price" for "cost") is the clinic's knowledge: it
lives in ``corpus/vocabulary.yaml`` (bot.ingest.wording), never here.
"""

from __future__ import annotations

# Real words typed for others, which a spelling check cannot catch.
PHRASES: dict[str, str] = {"side affects": "side effects", "side affect": "side effect"}

VAGUE = frozenset(
    """actually actual stuff thing things bad good normal weird whole need needs needed heard hear
    read true really pretty kind sort lot lots bit people someone somebody anyone anybody
    afterwards afterward right away ever even still just way able okay fine worried worry
    wondering wonder curious question questions ask asking exactly basically generally usually
    typically probably maybe possible possibly mean means guess think thought sure last lasts
    friend friends mom dad wife husband partner someone's doctor's idea anymore work's
    info information details detail explain explanation tell told""".split()
)
