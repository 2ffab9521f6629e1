"""Instructions addressed to a model, in the supported languages: a prompt-injection line copied
from a page into a question or an answer, or one a model made up, is not training data.

The patterns are imperative and specific ("ignore the previous instructions", "from now on you
are"), so that a document about instructions or prompts still gets questions about it. They are
matched against ``text.normalize``'s form: lower case, spaces folded, Arabic letters unified.
"""

from __future__ import annotations

import re

from docgen.core.text import normalize

_EARLIER = r"(?:previous|prior|above|earlier|preceding|former|original|system)"
PATTERNS = [
    # English
    rf"\b(?:ignore|disregard|forget|override|bypass)\b(?: \w+){{0,3}} {_EARLIER} "
    r"(?:instructions?|prompts?|directions|rules|messages|context)",
    r"\b(?:ignore|disregard|forget) (?:all|everything|any) (?:(?:your|the|of|that) )*"
    r"(?:instructions|rules|you (?:were|have been) told)",
    r"\bfrom now on,? you (?:are|will|must|shall)\b",
    r"\bnew instructions ?:",
    r"\b(?:reveal|print|show|repeat) (?:your|the) (?:system|hidden|initial) "
    r"(?:prompt|instructions)",
    r"\bas an ai(?: language)? model\b",
    r"\b(?:jailbreak|do anything now|developer mode enabled)\b",
    # French
    r"\b(?:ignore[sz]?|oublie[sz]?) (?:toutes )?(?:les |tes |vos )?(?:instructions|consignes)"
    r"(?: \w+)?(?: précédentes| ci-dessus| antérieures)?",
    r"\bà partir de maintenant,? (?:tu es|vous êtes)\b",
    # German
    r"\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie) (?:alle )?(?:\w+ )?"
    r"(?:anweisungen|instruktionen|vorgaben)",
    r"\bab (?:jetzt|sofort),? (?:bist du|sind sie)\b",
    # Spanish
    r"\b(?:ignora|ignore|olvida|olvide) (?:todas )?(?:las |tus |sus )?"
    r"(?:instrucciones|indicaciones)",
    r"\ba partir de ahora,? (?:eres|usted es)\b",
    # Arabic (normalized: teh marbuta as heh)
    r"(?:تجاهل|انس|إنس|اهمل|أهمل) (?:\S+ )?(?:التعليمات|الاوامر|الأوامر|الإرشادات|الارشادات)",
    r"من الآن (?:فصاعدا|فصاعدًا)?،? ?(?:انت|أنت)",
    # Chinese
    r"(?:忽略|无视|忘记|忘掉)(?:之前|以上|前面|上述|所有|先前)?的?(?:所有)?(?:指令|指示|提示|规则|说明)",
    r"从现在开始，?你(?:是|将|必须)",
    # Japanese
    r"(?:以前|前|上記|これまで)の(?:すべての)?(?:指示|命令|プロンプト)を(?:無視|忘れ)",
    r"指示を無視",
    r"今から(?:あなた|君)は",
    # Korean
    r"(?:이전|앞|위|기존)의? ?(?:모든 )?(?:지시|명령|지침|프롬프트)(?:을|를|은|는)? ?(?:무시|잊)",
    r"지금부터 (?:너는|당신은)",
]
INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in PATTERNS))


def addressed_to_a_model(text: str) -> bool:
    """Whether ``text`` holds an instruction to a model (see :data:`PATTERNS`)."""
    return INSTRUCTION.search(normalize(text)) is not None
