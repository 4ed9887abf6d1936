"""Article pairs for story clustering, shared by tests/test_stories.py and bench/stories.py.

Written for this project (not taken from any publisher; names of public figures and places
are real, the events and figures are made up). Each topic has three articles:

- ``a`` and ``b`` tell the same story as two sites would: the same facts, with the title and
  lead reworded, the facts in another order, another dateline or byline;
- ``other`` is a *different* story on the same topic (another match, another vote, another
  earthquake, another decision of the same institution), against ``a``.

Every article is a dict with ``title``, ``text``, ``published`` (datetime) and ``language``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

Article = dict[str, Any]
T0 = datetime(2025, 3, 12, 9, 0)


def _article(title: str, text: str, hours: float, language: str = "fr") -> Article:
    return {
        "title": title,
        "text": " ".join(text.split()),
        "published": T0 + timedelta(hours=hours),
        "language": language,
    }


TOPICS: dict[str, dict[str, Article]] = {
    "earthquake": {
        "a": _article(
            "Séisme de magnitude 5,8 dans la province d'Al Haouz : deux blessés légers",
            """Marrakech – Une secousse tellurique de magnitude 5,8 sur l'échelle de Richter a été
            enregistrée mercredi à 14h32 dans la province d'Al Haouz, a annoncé l'Institut
            national de géophysique (ING). Selon les autorités locales, deux personnes ont été
            légèrement blessées à Amizmiz et plusieurs maisons en pisé ont subi des fissures.
            Aucune victime n'est à déplorer, précise la même source.""",
            0,
        ),
        "b": _article(
            "Al Haouz : une secousse de 5,8 fait deux blessés à Amizmiz",
            """Par notre correspondant. Deux blessés légers et des fissures sur des habitations en
            pisé : c'est le bilan provisoire du tremblement de terre de magnitude 5,8 survenu ce
            mercredi après-midi dans la province d'Al Haouz. L'Institut national de géophysique
            a situé l'épicentre près d'Amizmiz. Les autorités locales n'ont signalé aucun
            décès.""",
            3,
        ),
        "other": _article(
            "Une secousse de magnitude 4,3 ressentie à Al Hoceima",
            """Al Hoceima – Un séisme de magnitude 4,3 a été enregistré jeudi matin au large d'Al
            Hoceima, selon l'Institut national de géophysique. La secousse, ressentie par les
            habitants de la ville et d'Imzouren, n'a fait ni victime ni dégât matériel, selon
            les autorités locales.""",
            20,
        ),
    },
    "football": {
        "a": _article(
            "Botola Pro : le Raja s'impose 2-1 face au FUS de Rabat",
            """Le Raja de Casablanca a battu le FUS de Rabat sur le score de deux buts à un,
            dimanche soir au stade Mohammed V, pour le compte de la 12e journée de la Botola Pro.
            Les Verts ont ouvert le score par Mohsine Moutaouali avant que le FUS n'égalise.
            Hamza Khabba a donné la victoire aux Casablancais en fin de match.""",
            0,
        ),
        "b": _article(
            "Le Raja renverse le FUS grâce à Khabba",
            """Casablanca, 12 mars (MAP) – Hamza Khabba a offert la victoire au Raja face au FUS de
            Rabat (2-1) dimanche au complexe Mohammed V, lors de la 12e journée du championnat.
            Moutaouali avait ouvert la marque pour les Rajaouis, rejoints au score par les
            Fussistes avant la pause.""",
            2,
        ),
        "other": _article(
            "Botola Pro : le Wydad battu 1-0 par la RS Berkane",
            """La Renaissance sportive de Berkane a dominé le Wydad de Casablanca (1-0), samedi au
            stade municipal de Berkane, lors de la 12e journée de la Botola Pro. L'unique but de
            la rencontre a été inscrit par Youssef Mehri à la 67e minute. Les Berkanis prennent
            la tête du championnat.""",
            -20,
        ),
    },
    "parliament": {
        "a": _article(
            "La Chambre des représentants adopte le projet de loi de finances 2025",
            """Rabat – Les députés ont adopté, lundi en séance plénière, le projet de loi de
            finances pour l'année 2025, par 180 voix pour et 72 contre, sans abstention. Le
            texte, présenté par la ministre de l'Économie et des Finances Nadia Fettah, prévoit
            une hausse de l'investissement public et une réforme de l'impôt sur le revenu. Il
            sera transmis à la Chambre des conseillers.""",
            0,
        ),
        "b": _article(
            "PLF 2025 : feu vert des députés, 180 voix pour",
            """Le projet de loi de finances 2025 a franchi lundi l'étape de la Chambre des
            représentants. 180 députés ont voté pour et 72 contre. Défendu par Nadia Fettah, le
            texte mise sur l'investissement public et révise l'impôt sur le revenu. La Chambre
            des conseillers doit maintenant l'examiner.""",
            5,
        ),
        "other": _article(
            "Les députés adoptent le projet de loi sur le droit de grève",
            """La Chambre des représentants a adopté, mardi en séance plénière, le projet de loi
            organique sur le droit de grève, par 124 voix pour et 41 contre. Le ministre de
            l'Inclusion économique, Younes Sekkouri, a salué un texte « équilibré ». Les
            centrales syndicales dénoncent un passage en force. Le texte sera transmis à la
            Chambre des conseillers.""",
            26,
        ),
    },
    "central-bank": {
        "a": _article(
            "Bank Al-Maghrib abaisse son taux directeur à 2,5 %",
            """Le conseil de Bank Al-Maghrib a décidé mardi de réduire son taux directeur de 25
            points de base, à 2,5 %, citant le reflux de l'inflation et le ralentissement de la
            croissance. Le wali Karim Bensaïd a indiqué que l'inflation devrait s'établir à
            1,8 % cette année.""",
            0,
        ),
        "b": _article(
            "Taux directeur : Bensaïd annonce une baisse à 2,5 %",
            """Rabat (AFP) – La banque centrale du Maroc a baissé de 0,25 point son principal taux,
            ramené à 2,5 %, à l'issue de la réunion trimestrielle de son conseil mardi. Son
            gouverneur, Karim Bensaïd, a justifié la décision par une inflation revenue à
            1,8 % et une croissance moins vigoureuse.""",
            4,
        ),
        "other": _article(
            "Bank Al-Maghrib maintient son taux directeur à 2,75 %",
            """Le conseil de Bank Al-Maghrib a décidé mardi de maintenir inchangé son taux
            directeur à 2,75 %, jugeant que l'inflation, à 3,1 %, reste au-dessus de son
            objectif. Le wali Karim Bensaïd a appelé à la prudence face aux incertitudes
            sur les prix de l'énergie.""",
            -24 * 91,  # the previous quarter's meeting
        ),
    },
    "road-accident": {
        "a": _article(
            "Accident sur l'autoroute Casablanca-Rabat : trois morts près de Bouznika",
            """Trois personnes ont trouvé la mort et cinq autres ont été blessées, samedi à
            l'aube, dans une collision entre un autocar et un camion sur l'autoroute
            Casablanca-Rabat, à hauteur de Bouznika, selon la Gendarmerie royale. Les blessés
            ont été évacués vers l'hôpital provincial de Benslimane. Une enquête a été
            ouverte.""",
            0,
        ),
        "b": _article(
            "Bouznika : collision meurtrière entre un autocar et un poids lourd",
            """Un autocar et un poids lourd sont entrés en collision tôt samedi matin sur
            l'autoroute reliant Casablanca à Rabat, près de Bouznika. Le bilan fait état de trois
            morts et cinq blessés, transportés à l'hôpital de Benslimane, a indiqué la
            Gendarmerie royale, qui a ouvert une enquête.""",
            6,
        ),
        "other": _article(
            "Deux morts dans un accident de la route près de Settat",
            """Deux personnes ont péri et quatre autres ont été blessées, vendredi soir, dans le
            renversement d'un véhicule de transport mixte sur la route nationale 9, près de
            Settat, selon les autorités locales. Les blessés ont été transférés à l'hôpital
            Hassan II de Settat. Une enquête a été ouverte par la Gendarmerie royale.""",
            -12,
        ),
    },
    "diplomacy": {
        "a": _article(
            "Nasser Bourita reçoit son homologue espagnol José Manuel Albares à Rabat",
            """Le ministre des Affaires étrangères, Nasser Bourita, s'est entretenu jeudi à Rabat
            avec son homologue espagnol José Manuel Albares. Les deux responsables ont évoqué la
            coopération migratoire, la réouverture des douanes de Ceuta et Melilla et la
            préparation de la Coupe du monde 2030, co-organisée par le Maroc, l'Espagne et le
            Portugal.""",
            0,
        ),
        "b": _article(
            "Rabat et Madrid font le point sur les douanes de Ceuta et Melilla",
            """En visite jeudi à Rabat, le chef de la diplomatie espagnole José Manuel Albares a
            été reçu par Nasser Bourita. Au menu : les douanes commerciales de Ceuta et Melilla,
            la gestion des flux migratoires et le Mondial 2030 que les deux pays organiseront
            avec le Portugal.""",
            8,
        ),
        "other": _article(
            "Nasser Bourita s'entretient avec son homologue portugais Paulo Rangel",
            """Le ministre des Affaires étrangères Nasser Bourita a reçu lundi à Rabat son
            homologue portugais Paulo Rangel. Les entretiens ont porté sur la coopération
            énergétique, les liaisons maritimes et la préparation de la Coupe du monde 2030,
            co-organisée par le Maroc, l'Espagne et le Portugal.""",
            -72,
        ),
    },
    "dams": {
        "a": _article(
            "Barrages : le taux de remplissage atteint 32 % après les pluies de mars",
            """Le taux de remplissage des barrages du Maroc s'établit à 32,4 % au 10 mars, contre
            23,1 % un an plus tôt, selon le ministère de l'Équipement et de l'Eau. Les récentes
            précipitations ont surtout profité aux bassins du Loukkos et du Sebou, tandis que
            celui de l'Oum Er-Rbia reste à 8 %.""",
            0,
        ),
        "b": _article(
            "Après les pluies, les barrages remplis à 32,4 %",
            """Bonne nouvelle pour les réserves hydriques : les barrages du Royaume affichent un
            taux de remplissage de 32,4 %, contre 23,1 % à la même date l'an dernier, indiquent
            les chiffres du ministère de l'Équipement et de l'Eau arrêtés au 10 mars. Le Loukkos
            et le Sebou en profitent le plus ; l'Oum Er-Rbia plafonne à 8 %.""",
            7,
        ),
        "other": _article(
            "Barrages : le taux de remplissage grimpe à 35 % début avril",
            """Selon le ministère de l'Équipement et de l'Eau, les barrages du Maroc étaient
            remplis à 35,2 % au 8 avril, contre 24,6 % un an plus tôt. Le bassin du Sebou dépasse
            désormais 50 %, celui de l'Oum Er-Rbia reste sous la barre des 10 %.""",
            24 * 27,  # the weekly figure four weeks later
        ),
    },
    "airline": {
        "a": _article(
            "Royal Air Maroc commande vingt Boeing 737 MAX",
            """La compagnie nationale Royal Air Maroc a signé mardi à Casablanca une commande ferme
            de vingt Boeing 737 MAX, assortie d'options sur dix appareils supplémentaires, a
            annoncé son PDG Abdelhamid Addou. Les premières livraisons sont attendues en
            2026.""",
            0,
        ),
        "b": _article(
            "RAM : accord pour 20 avions 737 MAX avec Boeing",
            """Abdelhamid Addou, PDG de la RAM, a annoncé mardi la signature d'un contrat ferme
            portant sur 20 Boeing 737 MAX, plus dix en option. Le transporteur marocain attend
            les premiers appareils dès 2026, dans le cadre de son plan de développement de
            flotte.""",
            1,
        ),
        "other": _article(
            "Royal Air Maroc lance une ligne directe Casablanca-Pékin",
            """Royal Air Maroc inaugurera le 15 janvier une liaison directe entre Casablanca et
            Pékin, à raison de trois vols par semaine en Boeing 787 Dreamliner, a annoncé mardi
            la compagnie nationale. Son PDG Abdelhamid Addou y voit une étape de son plan de
            développement.""",
            30,
        ),
    },
    "storm": {
        "a": _article(
            "Storm Ciarán leaves 200,000 homes without power in Brittany",
            """Around 200,000 households in Brittany were left without electricity on Thursday
            after Storm Ciarán brought winds of up to 190 km/h to north-western France, the grid
            operator Enedis said. One lorry driver died in the Aisne when a tree fell on his
            vehicle.""",
            0,
            "en",
        ),
        "b": _article(
            "Brittany: 200,000 without electricity as Ciarán hits France",
            """PARIS (Reuters) - Winds gusting at 190 km/h battered the north-west of France
            overnight as Storm Ciarán made landfall, cutting power to some 200,000 homes in
            Brittany, according to Enedis. A truck driver was killed when a tree crashed onto his
            lorry in the Aisne department.""",
            2,
            "en",
        ),
        "other": _article(
            "Storm Babet: three dead as floods hit Scotland",
            """Three people have died in Scotland as Storm Babet brought torrential rain and
            flooding, Police Scotland said on Friday. Hundreds of homes in Brechin were evacuated
            after the River South Esk burst its banks, and thousands of homes lost power.""",
            30,
            "en",
        ),
    },
    "phone": {
        "a": _article(
            "Apple unveils iPhone 16 with a dedicated camera button",
            """Apple on Monday introduced the iPhone 16 at its Cupertino headquarters, adding a
            dedicated camera control button and a faster A18 chip. Prices start at $799 and the
            phones go on sale on September 20.""",
            0,
            "en",
        ),
        "b": _article(
            "iPhone 16: Apple adds a camera control and the A18 chip",
            """CUPERTINO, California — The iPhone 16, presented by Apple on Monday, gets a new
            button to control the camera and runs on the A18 processor. It will be available from
            September 20, from $799.""",
            3,
            "en",
        ),
        "other": _article(
            "Samsung unveils Galaxy S25 with a faster Snapdragon chip",
            """Samsung on Wednesday introduced the Galaxy S25 in San Jose, with a faster
            Snapdragon 8 Elite chip and new artificial intelligence features. Prices start at
            $799 and the phones go on sale on February 7.""",
            48,
            "en",
        ),
    },
    "earthquake-ar": {
        "a": _article(
            "زلزال بقوة 5,8 درجات يضرب إقليم الحوز",
            """ضربت هزة أرضية بقوة 5,8 درجات على سلم ريشتر إقليم الحوز يوم الأربعاء، وفق المعهد
            الوطني للجيوفيزياء. وأفادت السلطات المحلية بإصابة شخصين بجروح طفيفة في أمزميز وتصدع
            عدد من المنازل.""",
            0,
            "ar",
        ),
        "b": _article(
            "الحوز: إصابة شخصين في هزة أرضية بأمزميز",
            """أصيب شخصان بجروح خفيفة وتضررت منازل طينية في أمزميز، إثر هزة أرضية بلغت قوتها 5,8
            درجات ضربت الأربعاء إقليم الحوز، حسب ما أعلنه المعهد الوطني للجيوفيزياء والسلطات
            المحلية.""",
            2,
            "ar",
        ),
        "other": _article(
            "هزة أرضية بقوة 4,3 درجات قبالة الحسيمة",
            """سجل المعهد الوطني للجيوفيزياء صباح الخميس هزة أرضية بقوة 4,3 درجات قبالة سواحل
            الحسيمة، شعر بها سكان المدينة وإمزورن، دون أن تخلف خسائر بشرية أو مادية حسب السلطات
            المحلية.""",
            20,
            "ar",
        ),
    },
    "football-ar": {
        "a": _article(
            "المنتخب المغربي يفوز على الغابون بأربعة أهداف",
            """فاز المنتخب المغربي لكرة القدم على نظيره الغابوني بأربعة أهداف مقابل هدف واحد، مساء
            الجمعة بملعب فرانسفيل، ضمن تصفيات كأس أمم إفريقيا. وسجل أهداف المغرب إبراهيم دياز
            وأيوب الكعبي وعز الدين أوناحي.""",
            0,
            "ar",
        ),
        "b": _article(
            "تصفيات الكان: الأسود يهزمون الغابون 4-1",
            """حقق أسود الأطلس انتصارا عريضا على منتخب الغابون 4-1 في فرانسفيل، الجمعة، برسم
            تصفيات كأس إفريقيا للأمم. ووقع على الأهداف كل من أيوب الكعبي وإبراهيم دياز وعز الدين
            أوناحي.""",
            3,
            "ar",
        ),
        "other": _article(
            "المنتخب المغربي يتعادل مع ليسوتو",
            """تعادل المنتخب المغربي لكرة القدم مع نظيره من ليسوتو بدون أهداف، مساء الاثنين بملعب
            أكادير الكبير، ضمن تصفيات كأس أمم إفريقيا.""",
            72,
            "ar",
        ),
    },
}

# (topic, first, second, same story?)
PAIRS: list[tuple[str, Article, Article, bool]] = [
    (name, t["a"], t["b"], True) for name, t in TOPICS.items()
] + [(name, t["a"], t["other"], False) for name, t in TOPICS.items()]


def all_articles() -> list[tuple[str, Article]]:
    """Every article once, keyed 'topic/a', 'topic/b', 'topic/other'."""
    return [(f"{name}/{role}", art) for name, t in TOPICS.items() for role, art in t.items()]
