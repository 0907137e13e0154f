"""The publishing workflow runs exactly the README's two set-up commands, then deploys the HTML
with the official GitHub Pages actions (text checks, nothing is installed or run)."""

import yaml
from helpers import REPO
from test_readme import _readme_commands

WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _steps() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return workflow, {job: workflow["jobs"][job]["steps"] for job in workflow["jobs"]}


def test_the_workflow_runs_the_readme_commands():
    _, steps = _steps()
    runs = [step["run"].strip() for step in steps["build"] if "run" in step]
    build, test = _readme_commands()
    # A hosted runner is not root: the README says to put sudo in front of both apt-get calls.
    as_user = test.replace("(apt-get update", "(sudo apt-get update").replace(
        "DEBIAN_FRONTEND=noninteractive apt-get", "DEBIAN_FRONTEND=noninteractive sudo apt-get")
    assert runs == [as_user, build]


def test_the_workflow_deploys_the_built_html_with_the_pages_actions():
    workflow, steps = _steps()
    uses = [step.get("uses", "") for job in steps.values() for step in job]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    upload = next(s for s in steps["build"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "book/_build/html"
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    assert workflow["jobs"]["deploy"]["needs"] == "build"
