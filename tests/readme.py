"""The README's shell commands, read from the file so that tests run them as written."""

import re

from paths import REPO


def bash_blocks(heading: str) -> list[str]:
    """The ```bash blocks of the README section whose heading is ``heading`` (any level),
    up to the next heading of the same or a higher level."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert found, f"README.md has no section '{heading}'"
    level = len(found[1])
    rest = text[found.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    section = rest[: end.start()] if end else rest
    return re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)


def commands(heading: str) -> list[str]:
    """The commands of those blocks, one per logical line (continuations joined,
    comments and blank lines dropped)."""
    return [
        line.split("#")[0].strip()
        for block in bash_blocks(heading)
        for line in block.replace("\\\n", " ").splitlines()
        if line.split("#")[0].strip()
    ]
