"""The documentation stays true: the structure list is the registry's, the
README links the guides."""

from pathlib import Path

from jaxmixed.covariance import REGISTRY
from jaxmixed.covariance.catalog import catalog_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_structure_list_is_generated_from_the_registry():
    text = (ROOT / "docs" / "covariance-structures.md").read_text()
    assert text == catalog_markdown(), "regenerate: python -m jaxmixed.covariance.catalog > docs/covariance-structures.md"
    for name in REGISTRY:
        assert f"| `{name}` |" in text, name


def test_readme_links_the_guides():
    readme = (ROOT / "README.md").read_text()
    for doc in ("docs/for-sas-users.md", "docs/for-r-users.md", "docs/covariance-structures.md",
                "notebooks/walkthrough.py"):
        assert doc in readme, doc
        assert (ROOT / doc).is_file(), doc
