"""The public pages: Jinja2 templates from ``templates/web/``, escaped, in the list's language."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from newsletter.render.view import RTL_LANGUAGES

LANGUAGES = ("fr", "en", "ar")
DEFAULT_LANGUAGE = "fr"  # the first newsroom's

# What readers see on the pages and in the confirmation mail, per language.
STRINGS: dict[str, dict[str, str]] = {
    "unsubscribe_title": {"fr": "Se désinscrire", "en": "Unsubscribe", "ar": "إلغاء الاشتراك"},
    "unsubscribe_question": {
        "fr": "Ne plus recevoir «\u00a0{list}\u00a0»\u00a0?",
        "en": "Stop receiving “{list}”?",
        "ar": "هل تريد التوقف عن تلقي «{list}»؟",
    },
    "unsubscribe_all": {
        "fr": "Me désinscrire aussi de toutes les autres lettres",
        "en": "Also unsubscribe me from every other list",
        "ar": "إلغاء اشتراكي من جميع النشرات الأخرى أيضا",
    },
    "unsubscribe_button": {
        "fr": "Confirmer la désinscription", "en": "Confirm", "ar": "تأكيد إلغاء الاشتراك",
    },
    # /unsubscribe without a token: the link of a copy that is nobody's (the outbox's web copy,
    # an editor's preview or test)
    "unsubscribe_copy": {
        "fr": "Ceci est une copie de la lettre, adressée à personne : pour vous désinscrire, "
        "suivez le lien « Se désinscrire » en bas du courriel que vous avez reçu.",
        "en": "This is a copy of the newsletter, addressed to nobody: to unsubscribe, follow the "
        "“Unsubscribe” link at the bottom of the email you received.",
        "ar": "هذه نسخة من النشرة غير موجهة لأحد: لإلغاء اشتراكك، اتبع رابط «إلغاء الاشتراك» "
        "في أسفل الرسالة التي وصلتك.",
    },
    "unsubscribed": {
        "fr": "C’est fait\u00a0: vous ne recevrez plus «\u00a0{list}\u00a0».",
        "en": "Done: you will not receive “{list}” any more.",
        "ar": "تم: لن تصلك «{list}» بعد الآن.",
    },
    "unsubscribed_all": {
        "fr": "C’est fait\u00a0: vous ne recevrez plus aucune de nos lettres.",
        "en": "Done: you will not receive any of our lists any more.",
        "ar": "تم: لن تصلك أي من نشراتنا بعد الآن.",
    },
    "bad_link_title": {"fr": "Lien invalide", "en": "Invalid link", "ar": "رابط غير صالح"},
    "bad_link": {
        "fr": "Ce lien est invalide ou a été modifié. Utilisez le lien complet reçu par courriel.",
        "en": "This link is invalid or was altered. Use the complete link from the email.",
        "ar": "هذا الرابط غير صالح أو تم تعديله. استعمل الرابط الكامل الوارد في الرسالة.",
    },
    "no_list": {
        "fr": "Cette lettre n’existe pas.", "en": "There is no such list.",
        "ar": "هذه النشرة غير موجودة.",
    },
    "expired_title": {"fr": "Lien expiré", "en": "Link expired", "ar": "انتهت صلاحية الرابط"},
    "expired": {
        "fr": "Ce lien de confirmation a expiré. Inscrivez-vous à nouveau pour en recevoir un autre.",
        "en": "This confirmation link has expired. Subscribe again to get a new one.",
        "ar": "انتهت صلاحية رابط التأكيد. اشترك من جديد لتتوصل برابط آخر.",
    },
    "subscribe_title": {"fr": "S’inscrire", "en": "Subscribe", "ar": "الاشتراك"},
    "email": {"fr": "Adresse électronique", "en": "Email address", "ar": "البريد الإلكتروني"},
    "name": {"fr": "Nom (facultatif)", "en": "Name (optional)", "ar": "الاسم (اختياري)"},
    "subscribe_button": {"fr": "S’inscrire", "en": "Subscribe", "ar": "اشترك"},
    "check_mailbox": {
        "fr": "Merci\u00a0! Si l’adresse est valide, un courriel de confirmation vient de lui "
              "être envoyé\u00a0: cliquez sur son lien pour terminer l’inscription.",
        "en": "Thank you! If the address is valid, a confirmation email is on its way: "
              "follow its link to complete your subscription.",
        "ar": "شكرا! إذا كان العنوان صالحا فقد أرسلنا إليه رسالة تأكيد: اتبع الرابط فيها لإتمام الاشتراك.",
    },
    "bad_email": {
        "fr": "Cette adresse électronique n’est pas valide.",
        "en": "This email address is not valid.",
        "ar": "عنوان البريد الإلكتروني هذا غير صالح.",
    },
    "too_many": {
        "fr": "Trop de demandes. Réessayez dans quelques minutes.",
        "en": "Too many requests. Try again in a few minutes.",
        "ar": "طلبات كثيرة جدا. أعد المحاولة بعد بضع دقائق.",
    },
    "confirmed_title": {
        "fr": "Inscription confirmée", "en": "Subscription confirmed", "ar": "تم تأكيد الاشتراك",
    },
    "confirmed_archive": {
        "fr": "Lire les éditions déjà parues", "en": "Read the editions already out",
        "ar": "اقرأ الأعداد السابقة",
    },
    "confirmed": {
        "fr": "Merci\u00a0: vous recevrez désormais «\u00a0{list}\u00a0».",
        "en": "Thank you: you will now receive “{list}”.",
        "ar": "شكرا: ستصلك «{list}» من الآن فصاعدا.",
    },
    "not_confirmed": {
        "fr": "Cette inscription ne peut pas être confirmée.",
        "en": "This subscription cannot be confirmed.",
        "ar": "لا يمكن تأكيد هذا الاشتراك.",
    },
    "confirm_subject": {
        "fr": "Confirmez votre inscription à «\u00a0{list}\u00a0»",
        "en": "Confirm your subscription to “{list}”",
        "ar": "أكد اشتراكك في «{list}»",
    },
    "confirm_intro": {
        "fr": "Quelqu’un (vous, sans doute) a demandé à recevoir «\u00a0{list}\u00a0» à cette adresse.",
        "en": "Someone (probably you) asked to receive “{list}” at this address.",
        "ar": "طلب شخص ما (أنت على الأرجح) تلقي «{list}» على هذا العنوان.",
    },
    "confirm_button": {
        "fr": "Confirmer mon inscription", "en": "Confirm my subscription", "ar": "تأكيد اشتراكي",
    },
    "confirm_ignore": {
        "fr": "Si ce n’est pas vous, ignorez ce message\u00a0: vous ne recevrez rien.",
        "en": "If it was not you, ignore this message: you will receive nothing.",
        "ar": "إذا لم تكن أنت، تجاهل هذه الرسالة: لن يصلك أي شيء.",
    },
    "error_title": {"fr": "Erreur", "en": "Error", "ar": "خطأ"},
    "not_found": {"fr": "Page introuvable.", "en": "Page not found.", "ar": "الصفحة غير موجودة."},
    "greeting": {"fr": "Bonjour", "en": "Hello", "ar": "مرحبا"},
    # the public archive (newsletter/web/archive.py)
    "archive_title": {"fr": "Archives", "en": "Archive", "ar": "الأرشيف"},
    "archive_intro": {
        "fr": "Nos lettres\u00a0: inscrivez-vous, ou lisez en ligne les éditions déjà parues.",
        "en": "Our lists: subscribe to one, or read their past editions online.",
        "ar": "نشراتنا: اشترك فيها، أو اقرأ أعدادها السابقة على الإنترنت.",
    },
    "archive_empty": {
        "fr": "Aucune édition n’a encore été publiée.",
        "en": "No edition has been published yet.",
        "ar": "لم يُنشر أي عدد بعد.",
    },
    "archive_latest": {
        "fr": "Dernière édition\u00a0: {date}", "en": "Latest edition: {date}",
        "ar": "آخر عدد: {date}",
    },
    "archive_list_title": {
        "fr": "Les éditions de «\u00a0{list}\u00a0»", "en": "Past editions of “{list}”",
        "ar": "أعداد «{list}»",
    },
    "archive_all_lists": {"fr": "Toutes les lettres", "en": "All lists", "ar": "كل النشرات"},
    "archive_feed": {"fr": "Flux Atom", "en": "Atom feed", "ar": "موجز Atom"},
    "archive_subscribe": {
        "fr": "S’inscrire à cette lettre", "en": "Subscribe to this list",
        "ar": "اشترك في هذه النشرة",
    },
    "archive_newer": {"fr": "Éditions plus récentes", "en": "Newer editions", "ar": "أعداد أحدث"},
    "archive_older": {"fr": "Éditions plus anciennes", "en": "Older editions", "ar": "أعداد أقدم"},
    "archive_page": {
        "fr": "Page {page} sur {pages}", "en": "Page {page} of {pages}",
        "ar": "الصفحة {page} من {pages}",
    },
    "archive_unavailable": {
        "fr": "Cette édition ne peut pas être affichée pour le moment.",
        "en": "This edition cannot be shown right now.",
        "ar": "لا يمكن عرض هذا العدد حاليا.",
    },
}


def language_of(value: str | None) -> str:
    """A language we have pages in: VALUE when it is one, else the default."""
    value = (value or "").split("-")[0].strip().lower()
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def request_language(request: Request) -> str:
    """The reader's language from Accept-Language, for pages that belong to no list."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].split("-")[0].strip().lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def strings(language: str) -> dict[str, str]:
    return {key: table.get(language, table["en"]) for key, table in STRINGS.items()}


def text(key: str, language: str, **values: str) -> str:
    table = STRINGS[key]
    return table.get(language, table["en"]).format(**values)


@functools.lru_cache(maxsize=8)
def environment(folder: str) -> jinja2.Environment:
    """Templates of FOLDER, HTML-escaped everywhere (``.txt`` files excepted)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=lambda name: name is not None and not name.endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    templates: Path, name: str, language: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page templates/web/NAME in LANGUAGE, as a response."""
    env = environment(str(templates / "web"))
    html = env.get_template(name).render(
        lang=language,
        dir="rtl" if language in RTL_LANGUAGES else "ltr",
        t=strings(language),
        **context,
    )
    return HTMLResponse(
        html, status_code=status_code,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                 "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"},
    )
