"""The filters against a deliberately noisy generator on the sample corpus.

The `rules` backend's pairs are the good ones; each is also restated the way an LLM might (the
answer in a sentence, a number or date written another way) and stays good. The bad ones are made
from them: answers shuffled between documents, numbers invented, refusals, leaked markers,
questions that give the answer away, questions in another language. The filters must drop at least
95% of the bad pairs and keep at least 95% of the good ones.
"""

import random
import re
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from docgen.core.config import load_config
from docgen.core.executor import Executor
from docgen.core.values import answer_values
from docgen.core.workdir import WorkDir
from docgen.filter.passes import joined
from docgen.run.orchestrate import cluster
from docgen.run.pipeline import run_extract, run_filter, run_generate

SENTENCE = {
    "en": "The answer is {}.",
    "fr": "La réponse est {}.",
    "de": "Die Antwort ist {}.",
    "es": "La respuesta es {}.",
    "ar": "الجواب هو {}.",
    "zh": "答案是{}。",
    "ja": "答えは{}です。",
    "ko": "답은 {}입니다.",
}
REFUSAL = {
    "en": "The document does not mention it.",
    "fr": "Non mentionné dans le document.",
    "de": "Im Dokument nicht angegeben.",
    "es": "No se menciona en el documento.",
    "ar": "غير مذكور في المستند.",
    "zh": "文件中未提及。",
    "ja": "文書には記載されていません。",
    "ko": "문서에 언급되지 않았습니다.",
}


@pytest.fixture(scope="module")
def work(samples, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    cfg = load_config(
        "default",
        [f"input={samples}", f"work={root / 'work'}", "run.scheduler=sync", "run.progress=false"],
    )
    run_extract(Executor(), cfg)
    run_generate(Executor(), cfg)
    return cfg


def restated(pair, rng):
    """The same fact said another way: in a sentence, or a date/number in another format."""
    answer, lang = pair["answer"], pair["lang"]
    values, _ = answer_values(answer)
    iso = next((v for r in values for v in r if re.fullmatch(r"\d{4}-\d\d-\d\d", v)), None)
    if iso and lang in ("en", "fr", "de", "es"):
        return iso
    if re.fullmatch(r"[$€£]?\s?\d{1,3}(,\d{3})+\.\d\d", answer.strip()):
        return re.sub(r"[$€£,\s]", "", answer)  # "$1,671.67" -> "1671.67"
    return SENTENCE[lang].format(answer)


def invented(answer, rng):
    digits = [i for i, c in enumerate(answer) if c.isdigit()]
    if not digits:
        return None
    i = rng.choice(digits)
    return answer[:i] + str((int(answer[i]) + rng.randint(1, 8)) % 10) + answer[i + 1 :]


def noisy(rows, rng):
    """(row, label): each good pair (as it was, or restated) and a bad pair made from it."""
    out = []
    others = {lang: [r for r in rows if r["lang"] != lang] for lang in SENTENCE}
    for r in rows:
        out.append(({**r, "answer": restated(r, rng)} if rng.random() < 0.5 else r, "good"))
        stranger = rng.choice([o for o in rows if o["doc_id"] != r["doc_id"]])
        kind = rng.choice(["shuffled", "invented", "refusal", "marker", "giveaway", "language"])
        if kind == "shuffled":
            bad = {**r, "answer": stranger["answer"]}
        elif kind == "invented" and (answer := invented(r["answer"], rng)):
            bad = {**r, "answer": answer}
        elif kind == "refusal":
            bad = {**r, "answer": REFUSAL[r["lang"]]}
        elif kind == "marker":
            bad = {**r, "question": f"Q1: {r['question']} A1:"}
        elif kind == "giveaway":
            bad = {**r, "question": f"{r['question']} ({r['answer']})"}
        else:
            kind = "language"
            bad = {**r, "question": rng.choice(others[r["lang"]])["question"]}
        out.append((bad, kind))
    return out


def test_noisy_generator_95_percent_bad_dropped_and_good_kept(work):
    rng = random.Random(7)
    wd = WorkDir(work.work)
    for part in wd.run_parts("qa"):
        rows = wd.read("qa", part).to_pylist()
        made = noisy(rows, rng)
        for i, (row, _) in enumerate(made):
            row["pair_id"] = f"{row['pair_id']}-{i}"
        table = pa.Table.from_pylist([r for r, _ in made], wd.read("qa", part).schema)
        table = table.append_column("label", pa.array([label for _, label in made]))
        pq.write_table(table, wd.part_path("qa", part))
    with cluster("sync", None) as client:
        stats = run_filter(Executor(client), work)
    outcome = Counter()
    for part in wd.run_parts("kept"):
        t = joined(wd, part, columns=["label", "keep", "reason"]).to_pylist()
        outcome.update((r["label"], r["keep"]) for r in t)

    def share(label, keep):
        return outcome[(label, keep)] / (outcome[(label, True)] + outcome[(label, False)])

    good = share("good", True)
    bad_labels = {label for label, _ in outcome if label != "good"}
    dropped = {b: round(share(b, False), 3) for b in bad_labels}
    total_bad = sum(outcome[(b, k)] for b in bad_labels for k in (True, False))
    bad = sum(outcome[(b, False)] for b in bad_labels) / total_bad
    report = f"good kept {good:.3f}, bad dropped {bad:.3f} {dropped} {stats['dropped']}"
    assert good >= 0.95 and bad >= 0.95, report
    assert all(share >= 0.85 for share in dropped.values()), report
