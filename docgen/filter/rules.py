"""Filter stage: every pair passes a chain of filters, each returning ``(keep, reason)``.

The first filter that rejects a pair names the reason; reasons are counted per partition and
summed into the manifest. ``kept/part-<id>.parquet`` holds every pair with ``keep`` and ``reason``
columns, so what was dropped can be audited next to what was kept. After the partitions, a
dataset-wide pass (``docgen.filter.dedup``) drops near-duplicate pairs and pages across documents.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.step import Output, Step, run_step
from docgen.core.text import CJK, STOPWORDS, normalize, script_counts
from docgen.core.workdir import KEPT, PAGES, QA, WorkDir, fingerprint
from docgen.filter import passes
from docgen.filter.anchors import anchored
from docgen.filter.decontam import contamination_index, fingerprint_file
from docgen.filter.grounding import PageInfo, ungrounded
from docgen.filter.injection import addressed_to_a_model
from docgen.generate.facts import mathish

CODE = re.compile(
    r"```|\bdef \w+\(|\bfunction\s*\(|</?\w+[^>]*>|\{\s*\"\w+\"\s*:|;\s*$|=>|\+\+"
    # TeX macros and internal names (\setlength, \@starttoc), not a Windows path's C:\Users
    r"|(?<![:\w])\\[A-Za-z@]{2,}|\\[@_]"
)
# A question ends as one does in its language (Japanese may end in the particle か).
QUESTION_END = re.compile(r"[?？؟]\s*[\"”»」』']?\s*$|か。?\s*$")
# Leaked numbering of the Docmatix prompt format ("Q1:", "A2："), not "Grade A1." or "Q3 2024".
MARKERS = re.compile(r"(^|\s)(Q|A)\d+\s*[:：]", re.IGNORECASE)
# "Unanswerable" and refusals in the supported languages (lower-cased comparison form).
UNANSWERABLE = re.compile(
    "|".join(
        [
            r"unanswerable",
            r"not (?:mentioned|provided|specified|stated|available|given) in",
            r"(?:does|do) not (?:mention|say|specify|state|contain)",
            r"not enough information",
            r"cannot be (?:determined|answered|found)",
            r"^n/?a$",
            r"i (?:cannot|can't|am unable|do not know|don't know)",
            r"non (?:mentionné|précisé|indiqué)",
            r"impossible de (?:répondre|déterminer)",
            r"je ne (?:peux|sais) pas",
            r"nicht (?:angegeben|erwähnt|beantwortbar|bekannt)",
            r"ich kann (?:nicht|keine)",
            r"no (?:se )?(?:menciona|especifica|indica)",
            r"no (?:puedo|es posible) (?:responder|determinar)",
            r"غير مذكور",
            r"لا يمكن (?:الإجابة|تحديد)",
            r"لم يُ?ذكر",
            r"未提及",
            r"无法(?:回答|确定)",
            r"没有(?:提到|提及)",
            r"記載されていません",
            r"回答できません",
            r"わかりません",
            r"언급되지 않",
            r"답할 수 없",
            r"알 수 없",
        ]
    )
)
# Which scripts a question in a language is written in (Latin for everything not listed).
LANGUAGE_SCRIPTS = {
    "ar": {"arabic"},
    "fa": {"arabic"},
    "ur": {"arabic"},
    "he": {"hebrew"},
    "zh": {"han"},
    "ja": {"kana", "han"},
    "ko": {"hangul", "han"},
}

# Question words tell Latin-script languages apart where a short question has few stopwords.
QUESTION_WORDS = {
    "en": set("what which who whom whose when where why how".split()),
    "fr": set("quel quelle quels quelles qui quand où pourquoi comment combien".split()),
    "de": set("was welche welcher welches welchen wer wem wann wo warum wie wieviel".split()),
    "es": set("qué cuál cuáles quién quiénes cuándo dónde por qué cómo cuánto cuánta".split()),
}


@dataclass
class Context:
    """What a pair is judged against: the pages it cites and the run's options."""

    pages: list[PageInfo]
    cfg: FilterConfig

    @property
    def lang(self) -> str:
        return self.pages[0].lang if self.pages else "und"


def not_empty(pair, ctx):
    return bool(pair["question"].strip() and pair["answer"].strip()), "empty"


def no_code(pair, ctx):
    code = any(CODE.search(t) or mathish(t) for t in (pair["question"], pair["answer"]))
    return not code, "code"


def a_question(pair, ctx):
    ok = not ctx.cfg.check_question or QUESTION_END.search(pair["question"]) is not None
    return ok, "not_a_question"


def no_markers(pair, ctx):
    return not (MARKERS.search(pair["question"]) or MARKERS.search(pair["answer"])), "qa_marker"


def no_instructions(pair, ctx):
    """A prompt-injection line, copied from the page or made up by the model."""
    text = f"{pair['question']}\n{pair['answer']}"
    return not addressed_to_a_model(text), "instruction"


def readable(pair, ctx):
    """U+FFFD means the PDF's text layer had a glyph with no Unicode value."""
    return "\ufffd" not in pair["question"] + pair["answer"], "unreadable"


def answerable(pair, ctx):
    return not UNANSWERABLE.search(normalize(pair["answer"])), "unanswerable"


def length_ok(pair, ctx):
    q, a = pair["question"].strip(), pair["answer"].strip()
    # A CJK character says about what two Latin letters do: "客户是谁？" is a full question.
    if (
        len(q) + len(CJK.findall(q)) < ctx.cfg.min_question_chars
        or len(q) > ctx.cfg.max_question_chars
    ):
        return False, "question_length"
    return len(a) <= ctx.cfg.max_answer_chars, "answer_length"


def needs_the_page(pair, ctx):
    """A question that gives its answer away, or that is a line copied from the page."""
    q, a = normalize(pair["question"]), normalize(pair["answer"])
    if len(a) >= 2 and a in q:
        return False, "answer_in_question"
    return not any(q == line for p in ctx.pages for line in p.lines), "question_is_page_text"


def in_language(pair, ctx):
    """The question is in the language asked for (``filter.language``), else the page's."""
    want = ctx.cfg.language or ctx.lang
    if not ctx.cfg.check_language or want == "und":
        return True, ""
    counts = script_counts(pair["question"])
    letters = sum(counts.values())
    if letters < 2:
        return True, ""
    scripts = LANGUAGE_SCRIPTS.get(want, {"latin"})
    if sum(counts[s] for s in scripts) < 0.5 * letters:
        return False, "language"
    if want == "zh" and counts["kana"]:
        return False, "language"  # Japanese about a Chinese page
    if scripts == {"latin"} and want in STOPWORDS:
        words = re.findall(r"[^\W\d_]+", pair["question"].lower())
        hits = {
            lang: sum(w in STOPWORDS[lang] for w in words) + 2 * sum(w in asks for w in words)
            for lang, asks in QUESTION_WORDS.items()
        }
        best = max(hits, key=hits.get)
        if best != want and hits[best] >= 2 and hits[best] > 2 * hits[want]:
            return False, "language"
    return True, ""


# Kinds of question (prompts/llm/kinds.yaml) whose answer is not a span of the text layer by
# nature: read off the image, a yes or no, where things are, what the document is. With
# filter.rate on, the rater's image_correspondence grounds them instead of the span check.
KEPT_LAYOUT = 2  # 2: kept/ holds the rules' verdicts only (see docgen.filter.passes)
RATER_GROUNDED = ("visual", "yes_no", "layout", "document")
# The scales of filter.rate (docgen/filter/rate.py), as FineVision rates turns.


def cap_kinds(pairs: list[dict], verdicts: list[tuple], caps: dict) -> list[tuple]:
    """The verdicts with kinds over their ``filter.max_kind_share`` cut down: of a kind's kept
    pairs, those first in the order of a hash of their id stay (so the cut is spread over the
    documents, the same every run), the rest are dropped as ``kind_share:<kind>``."""
    kept = [i for i, (keep, _) in enumerate(verdicts) if keep]
    out = list(verdicts)
    for kind, cap in caps.items():
        mine = [i for i in kept if pairs[i]["kind"] == kind]
        mine.sort(key=lambda i: hashlib.sha256(pairs[i]["pair_id"].encode()).digest())
        for i in mine[int(cap * len(kept)) :]:
            out[i] = (False, f"kind_share:{kind}")
    return out


def grounded(pair, ctx):
    """The answer is supported by the pages it cites (``docgen.filter.grounding``)."""
    if not ctx.cfg.require_grounded:
        return True, ""
    if pair.get("kind") in RATER_GROUNDED and ctx.cfg.rate:
        return True, ""  # not a span of the text layer by nature: the rater grounds it
    cfg = ctx.cfg
    reason = ungrounded(
        pair["answer"], ctx.pages, cfg.fuzzy_threshold, cfg.min_token_coverage, pair["question"]
    )
    return reason is None, reason


FILTERS = (
    not_empty,
    readable,
    no_code,
    no_markers,
    no_instructions,
    answerable,
    length_ok,
    needs_the_page,
    a_question,
    in_language,
    anchored,
    grounded,
)


def page_index(pages: list[dict]) -> dict[tuple[str, int], PageInfo]:
    return {(p["doc_id"], p["page"]): PageInfo.from_row(p) for p in pages}


def judge(pairs: list[dict], pages: dict, cfg: FilterConfig) -> list[tuple[bool, str | None]]:
    """(keep, reason) for every pair, in order. Duplicates are judged against the document's
    earlier kept pairs: the same question, or a near-identical one with the same answer (compared
    as its type by :func:`docgen.verify.matches`: "$1,234.50" is "1,234.50 USD")."""
    from rapidfuzz import fuzz

    from docgen.verify import matches

    contaminated = contamination_index(cfg)
    verdicts, seen = [], {}
    for pair in pairs:
        ctx = Context([pages[k] for n in pair["pages"] if (k := (pair["doc_id"], n)) in pages], cfg)
        reason = next((r for f in FILTERS for ok, r in [f(pair, ctx)] if not ok), None)
        if reason is None and contaminated is not None and contaminated(pair["question"]):
            reason = "contaminated"
        if reason is None:
            q, a = normalize(pair["question"]), normalize(pair["answer"])
            earlier = seen.setdefault(pair["doc_id"], [])
            if any(q == q0 for q0, _ in earlier):
                reason = "duplicate_question"
            elif any(fuzz.ratio(q, q0) >= cfg.near_duplicate_ratio
                     and (a == a0 or matches(a, a0, lang=pair.get("lang") or "und"))
                     for q0, a0 in earlier):  # fmt: skip
                reason = "near_duplicate_question"  # the same answer, however it is written
            else:
                earlier.append((q, a))
        verdicts.append((reason is None, reason))
    return verdicts


RULES = Step("filter", KEPT)


def filter_partition(work: str, part: str, cfg: FilterConfig) -> dict:
    """The partition rules' verdicts on every pair of ``part`` (``WORK/kept/``)."""
    wd = WorkDir(work)
    # The evaluation set's content counts too: a changed file re-judges every partition.
    # The settings of the later passes are not the rules': turning the judge on does not
    # filter again. KEPT_LAYOUT: kept/ holds these rules' verdicts only.
    rules = {k: v for k, v in asdict(cfg).items() if k not in passes.SETTINGS}
    fp = fingerprint([wd.fingerprint_of(wd.part_path(QA, part)), rules,
                      fingerprint_file(cfg.decontaminate), KEPT_LAYOUT])  # fmt: skip

    def run() -> Output:
        qa = wd.read(QA, part)
        pages = wd.read(PAGES, part, columns=["doc_id", "page", "text", "tables", "lang"])
        pairs = qa.to_pylist()
        verdicts = judge(pairs, page_index(pages.to_pylist()), cfg)
        verdicts = cap_kinds(pairs, verdicts, cfg.max_kind_share)
        table = qa.append_column("keep", pa.array([k for k, _ in verdicts], pa.bool_()))
        table = table.append_column("reason", pa.array([r for _, r in verdicts], pa.string()))
        return Output(table, passes.verdict_stats(table))

    return run_step(wd, RULES, part, fp, run)
