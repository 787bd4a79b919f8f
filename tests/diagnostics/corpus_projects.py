"""The independent projects of the parser's corpus and the faults injected into each.

Each project is a PyPI sdist that ships its own test suite; the generator
(`make_project_corpus.py`) unpacks it, applies the mutations below to the project's own
source (so its own tests fail with their own tracebacks), adds a few of the fault files of
`corpus_faults.py`, and runs its tests. Versions are pinned: a new release must not change
the corpus silently.

`HELD_OUT` was drawn at random (`random.Random(13).sample(sorted(names), 3)`) before any
log was looked at; the parser was fixed on the other projects only, and the held-out
figures are reported separately.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mutation:
    """Replace `old` (which must occur in `path`) with `new`, once."""

    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Project:
    name: str  # PyPI name
    version: str
    shape: str  # what kind of suite this is, for the README
    pythonpath: tuple[str, ...]  # where the source is imported from (relative to the root)
    targets: tuple[str, ...]  # what pytest is given (relative to the root)
    tests_dir: str  # where the fault files go
    module: str  # an importable project module the fault files use
    call: str  # an expression on `module` that runs project code and raises
    value: str  # an expression on `module` that returns a value
    mutations: tuple[Mutation, ...]
    faults: tuple[str, ...]  # names from corpus_faults.FAULTS
    rename: tuple[str, str] | None = None  # move a test directory (paths with spaces)
    extra_args: tuple[str, ...] = ()


ALL_FAULTS = ("fixtures", "conftest", "collect", "hypothesis", "subtest", "group", "decoys")

PROJECTS: tuple[Project, ...] = (
    Project(
        name="attrs",
        version="26.1.0",
        shape="src layout, hypothesis-heavy, --import-mode=importlib",
        pythonpath=("src",),
        targets=("tests/test_funcs.py", "tests/test_validators.py"),
        tests_dir="tests",
        module="attr",
        call="attr.fields(int)",
        value="attr.__version_info__",
        mutations=(
            Mutation(
                "src/attr/_funcs.py",
                "    return rv\n",
                "    if len(rv) > 2:\n        rv.pop(next(iter(rv)))\n    return rv\n",
            ),
        ),
        faults=("fixtures", "hypothesis", "group", "decoys"),
    ),
    Project(
        name="boltons",
        version="26.2.0",
        shape="flat layout, doctest-heavy (--doctest-modules)",
        pythonpath=(".",),
        targets=("tests/test_strutils.py", "boltons/strutils.py", "--doctest-modules"),
        tests_dir="tests",
        module="boltons.strutils",
        call="boltons.strutils.cardinalize(None, 2)",
        value="boltons.strutils.camel2under('SomeThing')",
        mutations=(
            Mutation("boltons/strutils.py", "camel_string).lower()", "camel_string).upper()"),
            Mutation(
                "boltons/strutils.py", "                ext = 'th'", "                ext = 'st'"
            ),
        ),
        faults=("conftest", "collect", "subtest", "decoys"),
    ),
    Project(
        name="cachetools",
        version="8.0.2",
        shape="src layout, unittest TestCase suites",
        pythonpath=("src",),
        targets=("tests/test_cache.py", "tests/test_lru.py", "tests/test_ttl.py"),
        tests_dir="tests",
        module="cachetools",
        call="cachetools.Cache(maxsize=-1)",
        value="cachetools.LRUCache(maxsize=2)",
        mutations=(
            Mutation(
                "src/cachetools/__init__.py",
                "self.__currsize += 1",
                "self.__currsize += 2",
            ),
        ),
        faults=("fixtures", "collect", "subtest", "group", "decoys"),
    ),
    Project(
        name="click",
        version="8.5.1",
        shape="src layout, fixtures-heavy (CliRunner fixture), filterwarnings=error",
        pythonpath=("src",),
        targets=("tests/test_termui.py", "tests/test_basic.py", "tests/test_utils"),
        tests_dir="tests",
        module="click",
        call="click.Choice(['a'], case_sensitive=True).convert('b', None, None)",
        value="click.style('x', fg='red')",
        mutations=(
            Mutation(
                "src/click/utils.py",
                "            return value.decode(sys.getfilesystemencoding())",
                "            return value.decode('ascii')",
            ),
            Mutation("src/click/types.py", '"yes": True,', '"yes": False,'),
        ),
        faults=("conftest", "fixtures", "hypothesis", "decoys"),
    ),
    Project(
        name="idna",
        version="3.20",
        shape="flat layout, unittest TestCase suites, tests in a directory named with a space",
        pythonpath=(".",),
        targets=("idna tests/test_idna.py", "idna tests/test_intranges.py"),
        tests_dir="idna tests",
        module="idna",
        call="idna.encode('a' * 70)",
        value="idna.encode('example.com')",
        mutations=(
            Mutation("idna/core.py", "    return len(label) <= 63", "    return len(label) < 60"),
        ),
        faults=("fixtures", "collect", "subtest", "group", "decoys"),
        rename=("tests", "idna tests"),
    ),
    Project(
        name="iniconfig",
        version="2.3.1",
        shape="src layout, small pytest suite, tests in a directory named with a space",
        pythonpath=("src",),
        targets=("unit tests",),
        tests_dir="unit tests",
        module="iniconfig",
        call="iniconfig.IniConfig('x.ini', data='value = 1\\n')",
        value="iniconfig.IniConfig('x.ini', data='[s]\\nk = v\\n')",
        mutations=(
            Mutation(
                "src/iniconfig/_parse.py",
                "        sources[section, name] = lineno",
                "        sources[section, name] = lineno + 1",
            ),
        ),
        faults=("conftest", "fixtures", "hypothesis", "group", "decoys"),
        rename=("testing", "unit tests"),
    ),
    Project(
        name="jaraco.functools",
        version="4.6.0",
        shape="namespace package (jaraco), doctests, tests at the root, --import-mode importlib",
        pythonpath=(".",),
        targets=(),
        tests_dir=".",
        module="jaraco.functools",
        call="jaraco.functools.retry_call(lambda: 1 / 0, retries=1)",
        value="jaraco.functools.compose(str, abs)(-3)",
        mutations=(
            Mutation(
                "jaraco/functools/__init__.py",
                "lambda *args, **kwargs: f1(f2(*args, **kwargs))",
                "lambda *args, **kwargs: f2(f1(*args, **kwargs))",
            ),
        ),
        faults=("fixtures", "collect", "hypothesis", "subtest", "decoys"),
    ),
    Project(
        name="markdown",
        version="3.11.3",
        shape="flat layout, unittest TestCase suites with a project test framework",
        pythonpath=(".",),
        targets=(
            "tests/test_syntax/inline/test_emphasis.py",
            "tests/test_syntax/blocks/test_hr.py",
            "tests/test_syntax/blocks/test_headers.py",
        ),
        tests_dir="tests",
        module="markdown",
        call="markdown.Markdown(extensions=['no_such_extension_here'])",
        value="markdown.markdown('*x*')",
        mutations=(
            Mutation(
                "markdown/blockprocessors.py",
                "'h%d' % len(m.group('level'))",
                "'h%d' % min(len(m.group('level')), 5)",
            ),
        ),
        faults=("conftest", "collect", "subtest", "group", "decoys"),
    ),
    Project(
        name="more-itertools",
        version="11.2.1",
        shape="flat layout, unittest TestCase suites and module doctests",
        pythonpath=(".",),
        targets=("tests/test_recipes.py", "more_itertools/recipes.py", "--doctest-modules"),
        tests_dir="tests",
        module="more_itertools",
        call="more_itertools.one([1, 2])",
        value="more_itertools.first([1, 2])",
        mutations=(
            Mutation(
                "more_itertools/recipes.py",
                "    return list(islice(iterable, n))",
                "    return list(islice(iterable, n + 1))",
            ),
            Mutation(
                "more_itertools/recipes.py",
                "    return chain.from_iterable(list_of_lists)",
                "    return chain(list_of_lists)",
            ),
        ),
        faults=("fixtures", "conftest", "hypothesis", "subtest", "decoys"),
    ),
    Project(
        name="pluggy",
        version="1.7.0",
        shape="src layout, fixtures-heavy, -r a and filterwarnings=error from its tox.ini",
        pythonpath=("src",),
        targets=(
            "testing/test_tracer.py",
            "testing/test_multicall.py",
            "testing/test_hookcaller.py",
        ),
        tests_dir="testing",
        module="pluggy",
        call="pluggy.PluginManager('corpus').add_hookspecs(object)",
        value="pluggy.PluginManager('corpus')",
        mutations=(
            # pytest itself runs on this copy of pluggy (it is first on the path): break only
            # what pytest does not use, the tracer's formatting
            Mutation("src/pluggy/_tracing.py", "[{':'.join(tags)}]", "[{'/'.join(tags)}]"),
            # pytest 7.4 is one of the versions the corpus runs
            Mutation("tox.ini", "minversion=8.0\n", ""),
        ),
        faults=("conftest", "collect", "group", "decoys"),
    ),
    Project(
        name="toolz",
        version="1.2.0",
        shape="tests inside the package, module doctests",
        pythonpath=(".",),
        targets=("toolz/tests/test_itertoolz.py", "toolz/itertoolz.py", "--doctest-modules"),
        tests_dir="toolz/tests",
        module="toolz",
        call="toolz.first([])",
        value="toolz.first([1])",
        mutations=(
            Mutation(
                "toolz/itertoolz.py",
                "    return itertools.islice(seq, n)",
                "    return itertools.islice(seq, n + 1)",
            ),
            Mutation(
                "toolz/itertoolz.py",
                "    return filterfalse(predicate, seq)",
                "    return filter(predicate, seq)",
            ),
        ),
        faults=("fixtures", "conftest", "collect", "hypothesis", "group", "decoys"),
    ),
    Project(
        name="zope.event",
        version="6.2",
        shape="namespace package (zope), src layout, unittest tests inside the package",
        pythonpath=("src",),
        targets=("src/zope/event/tests.py", "src/zope/event"),
        tests_dir="src/zope/event",
        module="zope.event",
        call="zope.event.classhandler.handler(1, 2, 3)",
        value="zope.event.subscribers",
        mutations=(
            Mutation(
                "src/zope/event/__init__.py",
                "    for subscriber in subscribers:",
                "    for subscriber in subscribers[1:]:",
            ),
        ),
        faults=("fixtures", "collect", "hypothesis", "subtest", "decoys"),
    ),
)

HELD_OUT = ("cachetools", "iniconfig", "zope.event")
