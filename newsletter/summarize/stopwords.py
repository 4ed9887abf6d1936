"""Stop words for French, English and Arabic: the words that say nothing about a story.

simplemma (our lemmatizer) ships no stop-word list, so these are short hand-made lists of
function words and news-reporting verbs. Both surface forms and lemmas are listed where
they differ, because a word is checked before and after lemmatisation. Elided French
articles ("l'", "d'", "qu'") appear without their apostrophe, as the tokenizer leaves them.
"""

from __future__ import annotations

_FRENCH = """
a à afin ai aie aient aies ait alors après as assez au aucun aucune aujourd auquel aura aurai
auraient aurais aurait auras aurez auriez aurions aurons auront aussi autre autres aux auxquelles
auxquels avaient avais avait avant avec avez aviez avions avoir avons ayant bien c ça car ce ceci
cela celle celles celui cependant certain certaine certaines certains ces cet cette ceux chacun
chaque chez ci comme comment contre d dans de depuis des desquelles desquels dessous dessus
donc dont du duquel durant elle elles en encore entre es est et étaient étais était étant été
être eu eue eues eurent eus eut eux fait faire fois font furent fut ici il ils j je jusqu jusque
l la là laquelle le lequel les lesquelles lesquels leur leurs lors lorsque lui m ma mais me même
mêmes mes moi moins mon n ne ni non nos notre nous on ont or ou où par parce pas pendant peu
peut plus plusieurs pour pourquoi puis qu quand que quel quelle quelles quels qui quoi s sa
sans se selon ses si sien soi soit son sont sous suis sur t ta tandis te tel telle telles tels
tes toi ton toujours tous tout toute toutes très tu un une unes uns vers via voici voilà vos
votre vous y déjà ainsi également lequel avoir pouvoir devoir aller venir dire selon afp
"""

_ENGLISH = """
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just let me more most my myself no nor not now of off on once only or other ought our ours
ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves s t said say says
told tell also one two new last year years mr mrs ms would could may might must shall get got
"""

_ARABIC = """
في من إلى الى على عن مع هذا هذه ذلك تلك هو هي هم هن أن ان إن كان كانت يكون تكون قد لقد لم لن
لا ما ماذا متى أين كيف كل بعض غير بين حتى ثم أو او أم بل لكن لأن إذا اذا التي الذي الذين اللذين
اللتين اللواتي عند عندما منذ خلال حول دون بعد قبل أمام فوق تحت وقال قال وقالت قالت أي أيضا كما
وفي ومن وعلى وهو وهي وأن وإن ولا وما فيه فيها منه منها عليه عليها إليه إليها به بها له لها لهم
هناك هنا نحو ضد أكثر أقل جدا يا و ف ب ل ك
"""

STOP_WORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(_FRENCH.split()),
    "en": frozenset(_ENGLISH.split()),
    "ar": frozenset(_ARABIC.split()),
}


def stop_words(language: str) -> frozenset[str]:
    """The stop words of LANGUAGE (an ISO 639-1 code); empty for a language we lack."""
    return STOP_WORDS.get(language, frozenset())
