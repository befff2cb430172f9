"""The file references docs/check-snippets checks: every file name
mentioned in the Markdown, or in a comment of the code, tests and scripts,
must name a file of the repository."""

import os
import re
import subprocess

SKIP_DIRS = {".git", "node_modules"}

# File references. A token that looks like a file of ours: a path with at
# least one `/` and a known extension, or a bare name with one of the
# extensions people cite files by. URLs, absolute paths (/proc/PID/stat)
# and globs (docs/*.png) never match.
REF_EXTENSIONS = ("md", "cpp", "hpp", "h", "cc", "py", "json", "png",
                  "supp", "sh", "txt", "in")
REFERENCE = re.compile(
    r"(?<![\w./*:~-])"
    r"((?:[\w.-]+/)*[\w-][\w.-]*\.(?:" + "|".join(REF_EXTENSIONS) + r"))"
    r"(?![\w/*-])")
BARE_EXTENSIONS = (".md", ".cpp", ".hpp")
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
# Names that look like files of ours but are someone else's. Keep it
# short, and say why each is here.
NOT_OURS = {
    # Asio's own example, cited as the origin of the one-slot channel
    # used as an asynchronous mutex (naive_mutex).
    "cpp20/channels/mutual_exclusion_1.cpp",
}
# System and library headers, named in comments about what we include.
NOT_OURS_PREFIXES = ("boost/", "sys/", "arpa/", "netinet/", "linux/")
# Files whose comments are checked: sources, scripts, build files.
CODE_EXTENSIONS = (".cpp", ".hpp", ".h", ".cc", ".py", ".sh", ".in",
                   ".cmake")


def repository_files(root):
    """Every file of the tree (relative paths): git's view when there is
    one (tracked, or new and not ignored), else a walk without build
    trees."""
    try:
        listed = subprocess.run(
            ["git", "-C", root, "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], capture_output=True, check=True)
        files = [f for f in listed.stdout.decode().split("\0")
                 if f and os.path.exists(os.path.join(root, f))]
        if files:
            return sorted(set(files))
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not d.startswith("build")
        )
        for f in sorted(filenames):
            found.append(os.path.relpath(os.path.join(dirpath, f), root))
    return found


def comment_lines(path):
    """(line number, text) of the comments in a code file: after `//` or
    inside `/* */` in C++, after `#` in scripts and build files."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    cxx = name.endswith((".cpp", ".hpp", ".h", ".cc"))
    in_block = False
    for number, line in enumerate(lines, 1):
        if cxx:
            text = ""
            rest = line
            if in_block:
                end = rest.find("*/")
                text += rest if end < 0 else rest[:end]
                in_block = end < 0
                rest = "" if end < 0 else rest[end + 2:]
            if rest.lstrip().startswith("#include"):
                continue
            if (i := rest.find("//")) >= 0:
                text += rest[i + 2:]
            elif (i := rest.find("/*")) >= 0:
                end = rest.find("*/", i + 2)
                text += rest[i + 2:] if end < 0 else rest[i + 2:end]
                in_block = end < 0
            if text:
                yield number, text
        elif number == 1 and line.startswith("#!"):
            continue
        elif (i := line.find("#")) >= 0 and not line[:i].rstrip().endswith(
                ("$", "{")):
            yield number, line[i + 1:]


def is_code_file(root, rel):
    if rel.endswith(CODE_EXTENSIONS) or os.path.basename(rel) in (
            "CMakeLists.txt", "CMakePresets.json"):
        return not rel.endswith(".json")
    path = os.path.join(root, rel)
    if "." in os.path.basename(rel) or not os.access(path, os.X_OK):
        return False
    with open(path, "rb") as f:
        return f.read(2) == b"#!"


def check_references(root, errors):
    files = repository_files(root)
    names = {os.path.basename(f) for f in files}
    known = set(files)

    def exists(ref, citing):
        if ref in NOT_OURS or ref.startswith(NOT_OURS_PREFIXES):
            return True
        if "/" not in ref:
            return ref in names or not ref.endswith(BARE_EXTENSIONS)
        here = os.path.dirname(citing)
        return any(os.path.normpath(os.path.join(base, ref)) in known
                   for base in ("", here))

    def scan(rel, numbered):
        for number, text in numbered:
            for ref in REFERENCE.findall(URL.sub(" ", text)):
                if not exists(ref.rstrip("."), rel):
                    errors.append(f"{rel}:{number}: reference to a file the "
                                  f"repository does not have: {ref}")

    for rel in files:
        if rel.startswith("fuzz/corpus/"):
            continue
        if rel.endswith(".md"):
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                scan(rel, enumerate(f, 1))
        elif is_code_file(root, rel):
            scan(rel, comment_lines(os.path.join(root, rel)))
