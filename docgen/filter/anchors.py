"""Questions that stay unambiguous when mixed: a multi-page or whole-document question names what
it relies on.

Trained among pairs of thousands of documents, "What is the total over both quarters?" could be
about any page of any row; "What is the total of the two tables on pages 2 and 3?" is not. So a
``multi_page`` pair must cite two pages or more (``multi_page_one_page``), and a ``multi_page``
or ``document`` question must name a page, figure, table, section or part of the document in its
language (``unanchored``): the prompt asks for it (``prompts/llm/kinds.yaml``), this checks it.
"""

from __future__ import annotations

import re

# Words that name a part of a document, per language (a page number written as "p. 3" too).
ANCHORS = {
    "en": "page pages p. pp. figure fig. table chart graph section chapter header footer appendix "
          "title heading paragraph column row list item signature logo",
    "fr": "page pages figure tableau graphique section chapitre en-tête pied annexe titre "
          "paragraphe colonne ligne liste signature",
    "de": "seite seiten abbildung abb. tabelle diagramm grafik abschnitt kapitel kopfzeile "
          "fußzeile anhang titel überschrift absatz spalte zeile liste unterschrift",
    "es": "página páginas figura tabla gráfico sección capítulo encabezado pie anexo título "
          "párrafo columna fila lista firma",
    "ar": "صفحة الصفحة الصفحتين الصفحات الشكل شكل الجدول جدول الرسم القسم الفصل العنوان "
          "الملحق الفقرة العمود الصف القائمة التوقيع",
    "fa": "صفحه صفحات شکل جدول نمودار بخش فصل عنوان پیوست بند ستون ردیف فهرست امضا",
    "he": "עמוד עמודים איור טבלה תרשים סעיף פרק כותרת נספח פסקה עמודה שורה רשימה חתימה",
}  # fmt: skip
# Chinese, Japanese and Korean write them unspaced: found as substrings.
CJK_ANCHORS = ("页", "頁", "图", "圖", "表", "节", "章", "标题", "附录", "段", "栏", "ページ",
               "図", "見出し", "付録", "段落", "タイトル", "欄", "페이지", "쪽", "그림", "표", "절",
               "장", "제목", "부록", "단락", "열", "행")  # fmt: skip
WORD = re.compile(r"[^\W\d_][\w\-]*\.?", re.UNICODE)
ANCHORED_KINDS = ("multi_page", "document")


def names_a_part(question: str, lang: str) -> bool:
    """Whether ``question`` names a page, figure, table, section or part of the document."""
    if any(a in question for a in CJK_ANCHORS):
        return True
    words = {w.lower() for w in WORD.findall(question)}
    words |= {w.rstrip(".") for w in words}
    known = ANCHORS.get(lang, "").split() + ANCHORS["en"].split()
    return any(a in words or a.rstrip(".") in words for a in known)


def anchored(pair: dict, ctx) -> tuple[bool, str]:
    """A filter of :mod:`docgen.filter.rules`: multi-page and whole-document questions name what
    they rely on, and a multi-page one cites two pages or more."""
    kind = pair.get("kind")
    if kind not in ANCHORED_KINDS or not ctx.cfg.require_anchors:
        return True, ""
    if kind == "multi_page" and len(set(pair["pages"])) < 2:
        return False, "multi_page_one_page"
    if not names_a_part(pair["question"], ctx.lang):
        return False, "unanchored"
    return True, ""
