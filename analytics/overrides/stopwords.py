"""Function words of the languages planners write reasons in (en, de, fr, es, it, pt, nl).

Written out here rather than downloaded: themes and labels must work offline, and a
short list of true function words (articles, pronouns, prepositions, conjunctions,
auxiliaries) is safer than a long one — "behind", "late", "again" or "always" carry
meaning in an override reason, and the generic lists drop them. Words are casefolded
and accent-free, like ``analytics.overrides.themes.normalize_reasons`` output.
"""

from __future__ import annotations

import re

STOP_WORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset(
        """a an the and or but if then so of to in on at by for from with into onto over
        under as is are was were be been being am do does did done has have had having it
        its it's this that these those there here we us our you your he she him her his they
        them their i me my mine not no nor than too very can could will would shall should
        may might must just also which who whom what when where why how all any both each
        per via vs about up out off down""".split()
    ),
    "de": frozenset(
        """der die das den dem des ein eine einen einem einer eines und oder aber wenn dann
        im in am an auf aus bei mit nach von vom zu zum zur fur uber unter vor durch gegen
        ohne um ist sind war waren wird werden wurde hat haben hatte sein es er sie wir ihr
        ich du man nicht kein keine noch schon auch nur so wie als da dass ob mehr sehr""".split()
    ),
    "fr": frozenset(
        """le la les l un une des du de d au aux et ou mais si donc car ni en dans sur sous
        par pour avec sans chez vers entre est sont etait ete etre a ai avons ont avait il
        elle ils elles on nous vous je tu me te se ce cet cette ces qui que quoi dont ne pas
        plus tres mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs""".split()
    ),
    "es": frozenset(
        """el la los las lo un una unos unas y o u pero si no ni de del al a en con sin por
        para sobre entre hasta desde es son era fue ser estar esta estan ha han hay se su
        sus mi mis tu tus nuestro nuestra que quien cual como cuando donde muy mas ya le les
        me te nos yo el ella ellos ellas""".split()
    ),
    "it": frozenset(
        """il lo la i gli le un uno una e ed o ma se non di del dello della dei degli delle
        a al allo alla ai agli alle da dal dalla in nel nella con su sul sulla per tra fra
        e sono era stato essere ha hanno ho che chi cui come quando dove molto piu gia mi
        ti ci vi si suo sua suoi sue mio mia""".split()
    ),
    "pt": frozenset(
        """o a os as um uma uns umas e ou mas se nao nem de do da dos das ao aos em no na nos
        nas com sem por pelo pela para sobre entre ate desde e sao era foi ser estar esta
        estao ha tem que quem qual como quando onde muito mais ja lhe me te seu sua seus
        suas meu minha""".split()
    ),
    "nl": frozenset(
        """de het een en of maar als dan in op aan bij met naar van voor tot uit door over
        onder is zijn was waren wordt worden heeft hebben had we wij ze zij hij ik je jij
        niet geen nog ook al er dat die dit deze wat wie hoe""".split()
    ),
}

STOP_WORDS: frozenset[str] = frozenset().union(*STOP_WORDS_BY_LANGUAGE.values())
LANGUAGES: tuple[str, ...] = tuple(STOP_WORDS_BY_LANGUAGE)
# Dutch function words are removed but not guessed: "en", "de", "van" are too often Spanish,
# French or a name in our planners' reasons.
GUESSED: tuple[str, ...] = ("en", "de", "fr", "es", "it", "pt")

# Words that mark a language better than its stop words do (shared function words such
# as "de" or "a" say little): only used to break ties in ``guess_language``.
_MARKERS: dict[str, frozenset[str]] = {
    "en": frozenset("the and of to is are with always late again they their for on at".split()),
    "de": frozenset("der die das und ist nicht immer zu spat im uber bei".split()),
    "fr": frozenset("le les et est pas toujours retard avec pour du au l d".split()),
    "es": frozenset("el los las y es siempre tarde del con para se lo".split()),
    "it": frozenset("il gli e sempre ritardo della con per non nella del da".split()),
    "pt": frozenset("os as e sempre atraso da com para nao no na do".split()),
}


# Letters and endings as typed (before accents are stripped) that point to one language.
_SPELLING: dict[str, re.Pattern[str]] = {
    "de": re.compile(r"[äöüß]|sch|ung\b|\w{12,}"),
    "fr": re.compile(r"[èêëç]|é\w|eau|\bl'|\bd'|ée\b"),
    "es": re.compile(r"ñ|ción\b|\w[ií]a\b|\w(?:ado|ada|ando)\b|ll"),
    "it": re.compile(r"[òù]|zione\b|gli|\w(?:ato|ata|are)\b|cc|zz"),
    "pt": re.compile(r"[ãõ]|ção\b|ções\b|nh|lh"),
    "en": re.compile(r"\w(?:ing|ed|ly)\b|th|w"),
}


def guess_language(tokens: list[str], typed: str = "") -> str:
    """The language whose function words a normalised reason uses most, or ``"?"``.

    ``tokens`` are the words of a ``normalize_reasons`` output; ``typed`` the reason as
    typed, whose accents and endings (``ñ``, ``-ção``, ``ä``) count half a word. Reasons
    are short, so this is a guess for grouping representatives on a page, never a filter.
    """
    low = typed.casefold()
    scores = {
        lang: sum(1.0 for t in tokens if t in STOP_WORDS_BY_LANGUAGE[lang])
        + sum(1.5 for t in tokens if t in _MARKERS[lang])
        + 0.5 * len(_SPELLING[lang].findall(low))
        for lang in GUESSED
    }
    best = max(scores.values())
    top = [lang for lang, s in scores.items() if s == best]
    return top[0] if best > 0 and len(top) == 1 else "?"
