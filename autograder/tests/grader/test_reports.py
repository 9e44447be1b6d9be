"""The written parts: questions parse, templates render with their figures, the rubric stays private."""
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import markdown
import torch
import pytest

from autograder.kit import Kit
from autograder.release import QUESTIONS, REFERENCE_FIGURES, find_leaks, rubric_path, skeleton_drift
from autograder.reports import read_questions, rubric_mismatches, templates
from common.report import new_figure, save_figure

KIT = Kit()
WRITTEN = [hw for hw in KIT.homeworks() if (KIT.skeleton_dir(hw) / QUESTIONS).is_file()]


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.headings, self._in_h2 = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())
            self._in_h2 = False


def report_with_placeholder_figures(hw: str, tmp_path: Path) -> tuple[Path, list]:
    """A copy of the homework's report folder, with a placeholder for every figure slot (PNG and PDF)."""
    report = tmp_path / hw / "report"
    shutil.copytree(KIT.skeleton_dir(hw) / "report", report, ignore=shutil.ignore_patterns("figures"))
    _, questions = read_questions(report / "questions.md")
    for figure in {f for q in questions for f in q.figures}:
        placeholder, axis = new_figure()
        axis.plot([0, 1], [0, 1])
        save_figure(placeholder, report / "figures" / figure)
    return report, questions


def test_the_written_parts_exist():
    assert set(WRITTEN) == {"hw1", "hw2", "hw3"}, f"homeworks with a written part: {WRITTEN}"


@pytest.mark.parametrize("hw", WRITTEN)
def test_markdown_template_renders_with_every_figure_and_question(hw, tmp_path):
    report, questions = report_with_placeholder_figures(hw, tmp_path)
    page = Images()
    page.feed(markdown.markdown((report / "report.md").read_text()))
    assert page.headings == [q.heading for q in questions]
    assert page.sources == [f"figures/{f}.png" for q in questions for f in q.figures]
    assert all((report / source).is_file() for source in page.sources)
    assert all(q.figures for q in questions), "every question has a command that draws its figure"


@pytest.mark.parametrize("hw", WRITTEN)
def test_latex_template_compiles_or_is_well_formed(hw, tmp_path):
    report, questions = report_with_placeholder_figures(hw, tmp_path)
    text = (report / "report.tex").read_text()
    sections = re.findall(r"\\section\*\{(.+)\}", text)
    assert len(sections) == len(questions)
    graphics = re.findall(r"\\includegraphics\[[^\]]*\]\{([^}]+)\}", text)
    assert graphics and all((report / g).is_file() for g in graphics)
    assert text.count(r"\begin{") == text.count(r"\end{")
    compiler = shutil.which("pdflatex")
    if compiler:  # where a TeX installation is present, the template must compile
        run = subprocess.run([compiler, "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=report,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and (report / "report.pdf").is_file(), run.stdout[-2000:]


@pytest.mark.parametrize("hw", WRITTEN)
def test_committed_templates_are_generated_from_the_questions(hw):
    generated = templates(hw, KIT.skeleton_dir(hw) / QUESTIONS)
    for name, text in generated.items():
        assert (KIT.skeleton_dir(hw) / "report" / name).read_text() == text, "run python -m autograder release"
    assert not rubric_mismatches(KIT.skeleton_dir(hw) / QUESTIONS, rubric_path(KIT, hw))


def test_a_rubric_out_of_step_with_the_questions_is_drift(tmp_path):
    questions = tmp_path / "questions.md"
    questions.write_text("# Title\n\n## Q1. One (3 points)\n\n(a) Why?\n")
    rubric = tmp_path / "rubric.md"
    rubric.write_text("# Rubric\n\n## Q1. One (4 points)\n")
    assert rubric_mismatches(questions, rubric)
    rubric.write_text("# Rubric\n\n## Q1. One (3 points)\n")
    assert not rubric_mismatches(questions, rubric)
    assert not [p for hw in WRITTEN for p in skeleton_drift(KIT, hw)]


@pytest.mark.parametrize("heading", ["## Q1 One (3 points)", "## Q1. One", "## Q2. One (3 points)"])
def test_malformed_questions_are_refused(heading, tmp_path):
    questions = tmp_path / "questions.md"
    questions.write_text(f"# Title\n\n{heading}\n")
    with pytest.raises(ValueError, match="Q"):
        read_questions(questions)


@pytest.mark.parametrize("hw", WRITTEN)
def test_the_leak_check_finds_rubric_text_in_a_release(hw, tmp_path):
    rubric = rubric_path(KIT, hw)
    release = tmp_path / "student"
    (release / hw).mkdir(parents=True)
    (release / hw / "README.md").write_text("# Handout\n\nNothing private here.\n")
    assert not find_leaks(KIT, release)
    secret = next(line for line in rubric.read_text().splitlines() if line.startswith("- (b)"))
    (release / hw / "README.md").write_text(f"# Handout\n\n{secret}\n")
    assert any("rubric" in problem for problem in find_leaks(KIT, release))
    shutil.copy(rubric, release / hw / "notes.txt")
    assert any("rubric" in problem for problem in find_leaks(KIT, release))
    answer = next((KIT.root / REFERENCE_FIGURES / hw).glob("*.png"))
    shutil.copy(answer, release / hw / "figure.png")
    assert any("reference's answer" in problem for problem in find_leaks(KIT, release))


def test_function_kinds_tells_lines_from_sinusoids():
    """hw3's ambiguity measure: a sampled function counts as a line when a line fits it (R^2 > 0.9)."""
    from hw3.evaluate import function_kinds

    x = torch.linspace(-5, 5, 100)
    lines = torch.stack([a * x + b for a, b in ((0.5, 1.0), (-3.0, 2.0), (0.05, -1.0))])
    sinusoids = torch.stack([amplitude * torch.sin(x - phase) for amplitude, phase in ((0.1, 0.0), (5.0, 1.0), (2.0, 3.0))])
    assert function_kinds(lines, x).all() and not function_kinds(sinusoids, x).any()
    assert function_kinds(lines + 0.01 * torch.sin(3 * x), x).all()  # a wiggle too small to matter
