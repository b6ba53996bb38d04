"""Build the web app into the package when it is missing, so `pip install .` serves it.

Everything else is in pyproject.toml. A clean clone has no statsserver/web/dist (it is built,
never committed); building a wheel or installing runs `npm ci` and `npm run build` in web/.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
DIST = ROOT / "statsserver" / "web" / "dist"


def build_web_app() -> None:
    if (DIST / "index.html").is_file() or not (WEB / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("building StatsServer's web app needs Node.js 18+ and npm on PATH")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)


class BuildPyWithWebApp(build_py):
    def run(self):
        build_web_app()
        super().run()


setup(cmdclass={"build_py": BuildPyWithWebApp})
