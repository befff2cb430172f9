"""Another revision's servers, for --against: each REV is checked out in a
temporary worktree (`git worktree add --detach`), configured with its own
default preset, and only its servers are built; the binaries are kept in
build/against/COMMIT/ (a commit's build does not change), the worktree and
its build tree are removed, also on an error or Ctrl-C."""

import os
import shutil
import signal
import subprocess
import tempfile

from .common import BUILD, LIMIT, ROOT, VARIANTS, say

CACHE = os.path.join(BUILD, "against")
BINARY = {LIMIT: "epoll_forwarder"}


def git(*argv, cwd=ROOT):
    return subprocess.run(["git", *argv], cwd=cwd, check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout.decode().strip()


class Revision:
    """One REV of --against: its commit, a label for the tables, and the
    folder of its servers' binaries (None until built)."""

    def __init__(self, rev):
        try:
            self.commit = git("rev-parse", "--verify", "--quiet",
                              f"{rev}^{{commit}}")
        except subprocess.CalledProcessError:
            raise SystemExit(f"bench/compare: --against: no such revision "
                             f"in this repository: {rev}")
        self.rev = rev
        self.short = self.commit[:7]
        self.label = (rev if rev == self.short else f"{rev} ({self.short})")
        self.subject = git("log", "-1", "--format=%s", self.commit)
        self.bin_dir = os.path.join(CACHE, self.commit, "bin")

    def binary(self, name):
        return os.path.join(self.bin_dir, BINARY.get(name, name))

    def servers(self, wanted):
        """Those of `wanted` built at this revision."""
        return [n for n in wanted if os.path.exists(self.binary(n))]

    def as_json(self):
        return {"rev": self.rev, "commit": self.commit,
                "subject": self.subject}


def working_tree():
    """What "now" is: HEAD, and whether the working tree differs from it."""
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": head, "dirty": dirty,
            "label": "now (" + head[:7] + (" + changes" if dirty else "")
            + ")"}


def build(revision, wanted):
    """Builds `wanted`'s binaries at the revision, unless build/against
    already holds all of those that exist there. A server missing at the
    revision is skipped with a message."""
    done = os.path.join(revision.bin_dir, ".built")
    if os.path.exists(done):
        say(f"{revision.label}: using "
            f"{os.path.relpath(revision.bin_dir, ROOT)}")
    else:
        with temporary_worktree(revision.commit) as tree:
            compile_servers(revision, tree, wanted)
        open(done, "w").close()
    for name in wanted:
        if not os.path.exists(revision.binary(name)):
            say(f"{revision.label}: skipping {name}: not built at that "
                "revision (not in its tree, or its build failed)")


class temporary_worktree:
    """`git worktree add --detach` into a temporary folder, removed on
    leaving (SIGTERM and SIGHUP are turned into an exit so that it is)."""

    def __init__(self, commit):
        self.commit = commit
        self.path = tempfile.mkdtemp(prefix="bench-against-")

    def __enter__(self):
        self.saved = {sig: signal.signal(sig, leave)
                      for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            git("worktree", "add", "--detach", self.path, self.commit)
        except BaseException:
            self.__exit__()
            raise
        return self.path

    def __exit__(self, *exc):
        subprocess.run(["git", "worktree", "remove", "--force", self.path],
                       cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(self.path, ignore_errors=True)
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def leave(signum, _frame):
    raise SystemExit(128 + signum)


def step(cmd, cwd):
    """Runs a build step in a process group of its own, which is ended if
    this process is interrupted (a compiler left running would write into
    the removed worktree); returns (exit status, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        err = proc.communicate()[1]
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    return proc.returncode, err.decode(errors="replace")


def compile_servers(revision, tree, wanted):
    """Configures the revision's tree with its default preset and builds
    its servers; copies them to revision.bin_dir."""
    present = [v for v in VARIANTS
               if os.path.exists(os.path.join(tree, v, "CMakeLists.txt"))]
    say(f"{revision.label}: configuring ({revision.subject[:60]})...")
    status, err = step(["cmake", "--preset", "default",
                        "-DROUTER_VARIANTS=" + ";".join(present)], tree)
    if status != 0:
        raise SystemExit(f"bench/compare: {revision.label} does not "
                         f"configure: {err.strip()[-500:]}")
    build_dir = os.path.join(tree, "build")
    targets = [BINARY.get(n, n) for n in wanted
               if n in present or n == LIMIT]
    known = subprocess.run(["cmake", "--build", build_dir, "--target",
                            "help"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL).stdout.decode()
    targets = [t for t in targets if f"{t}:" in known]
    say(f"{revision.label}: building {', '.join(targets)} (a few minutes; "
        f"kept in {os.path.relpath(revision.bin_dir, ROOT)})...")
    os.makedirs(revision.bin_dir, exist_ok=True)
    together = step(["cmake", "--build", build_dir, "--target", *targets],
                    tree)[0] == 0
    for target in targets:
        # One target at a time if they failed together: one that does not
        # build at an old revision does not stop the others.
        status, err = (0, "") if together else step(
            ["cmake", "--build", build_dir, "--target", target], tree)
        exe = os.path.join(build_dir, "bin", target)
        if status == 0 and os.path.exists(exe):
            shutil.copy2(exe, revision.bin_dir)
        else:
            say(f"{revision.label}: {target} did not build: "
                + err.strip()[-300:])
