"""The console end to end in headless Chromium, against uvicorn serving a generated world on the
embedded engine (docs/console.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ringwatch.services import results, ring_graph
from ringwatch.services.keys import Role
from tests.console import browser
from tests.console.served import Served, served_world

pytestmark = [pytest.mark.browser, pytest.mark.embedded]

if not browser.available():
    if os.environ.get("RINGWATCH_TEST_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{browser.CHROMIUM} and {browser.CHROMEDRIVER} are required under make test")
    pytest.skip(
        f"no {browser.CHROMIUM} or {browser.CHROMEDRIVER} (apt-get install chromium "
        "chromium-driver, or run make test, which installs them)",
        allow_module_level=True,
    )

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ACCOUNTS = 3000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_world(tmp_path_factory.mktemp("console"), ACCOUNTS) as s:
        yield s


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    d = browser.chrome()
    yield d
    d.quit()


def wait(driver: WebDriver, seconds: float = 60) -> WebDriverWait:  # type: ignore[type-arg]
    return WebDriverWait(driver, seconds)


def sign_in(driver: WebDriver, served: Served, role: Role) -> None:
    driver.delete_all_cookies()
    driver.get(f"{served.url}/console/login")
    driver.find_element(By.ID, "key").send_keys(served.key(role))
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait(driver).until(lambda d: "/console/login" not in d.current_url)


def heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def submit(driver: WebDriver, button: Any) -> None:
    """Click a form's button and wait for the page the server answers with: on a busy machine the
    click returns before the new page replaces the old one, and a lookup then finds the old page.

    The old document is marked and the wait is for a complete document without the mark. Asking
    about the clicked element instead races the swap: chromedriver then answers "Node with given
    id does not belong to the document", an unknown error rather than a stale element, and so do
    scripts run while no document is attached; both mean "not yet", so the wait polls on."""
    driver.execute_script("window.__ringwatchOldPage = true")
    button.click()
    WebDriverWait(driver, 60, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return !window.__ringwatchOldPage && document.readyState === 'complete'"
        )
    )


def test_refused_without_a_key(driver: WebDriver, served: Served) -> None:
    driver.delete_all_cookies()
    for page in ("rings", "reviews", "search", "analysts"):
        driver.get(f"{served.url}/console/{page}")
        assert heading(driver) == "Sign-in required", page
    driver.get(f"{served.url}/console/login")
    driver.find_element(By.ID, "key").send_keys("rw_0123456789abcdef_not-a-secret")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "#login button"))
    assert "invalid or revoked" in driver.find_element(By.ID, "login-error").text
    browser.shot(driver, "login")


@pytest.mark.parametrize("role", [Role.INGEST, Role.DECIDE, Role.ENFORCEMENT])
def test_refused_with_the_wrong_role(driver: WebDriver, served: Served, role: Role) -> None:
    sign_in(driver, served, role)
    for page in ("rings", "reviews", "search", "analysts"):
        driver.get(f"{served.url}/console/{page}")
        assert heading(driver) == "Refused", (role, page)
        assert f"role {role.value} may not open" in driver.page_source


def test_analyst_gets_cypher_but_not_casework(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.ANALYST)
    driver.get(f"{served.url}/console/rings")
    assert heading(driver) == "Refused"
    driver.get(f"{served.url}/console/analysts")
    box = driver.find_element(By.ID, "cypher-query")
    box.send_keys("MATCH (g:Ring) RETURN g.id AS id, g.size AS size ORDER BY size DESC LIMIT 3")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "#cypher button"))
    cells = driver.find_elements(By.CSS_SELECTOR, "#cypher-result tr")
    assert len(cells) == 4  # header and three rings
    browser.shot(driver, "analysts")
    box = driver.find_element(By.ID, "cypher-query")
    box.clear()
    box.send_keys("MATCH (a:Account) SET a.risk = 1 RETURN a")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "#cypher button"))
    assert driver.find_element(By.ID, "cypher-error").text  # the read-only guard refused it


def largest_fraud_ring(served: Served) -> dict[str, Any]:
    store = served.app.state.services.store  # type: ignore[attr-defined]
    rings = [r for r in results.export_rings(store) if r["verdict"] == "fraud"]
    assert rings, "the generated world should hold fraud rings"
    best = max(rings, key=lambda r: (len(r["members"]), r["ring_id"]))
    return results.ring_view(store, best["ring_id"])


def test_largest_fraud_ring_shows_its_shared_device(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    driver.get(f"{served.url}/console/rings?verdict=fraud&sort=size&order=desc")
    browser.shot(driver, "rings")
    expected = largest_fraud_ring(served)
    first = driver.find_element(By.CSS_SELECTOR, "#rings tbody tr a.ring-link")
    assert first.text == expected["id"]
    first.click()
    graph = wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-ready]"))
    )
    devices = [s for s in expected["evidence"]["shared_identifiers"] if s["kind"] == "device"]
    assert devices, "the largest fraud ring should share a device"
    lines = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#evidence-lines li")]
    assert f"{devices[0]['members']} accounts share device {devices[0]['key']}" in lines
    nodes = driver.execute_script(
        "return window.ringwatchGraph.nodes('[type = \"account\"]').length"
    )
    assert nodes == len(expected["members"])
    assert graph.get_attribute("data-rendered-ms")
    browser.shot(driver, "ring")


def test_expand_a_node(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    ring = largest_fraud_ring(served)
    driver.get(f"{served.url}/console/rings/{ring['id']}")
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-ready]")))
    before = driver.execute_script("return window.ringwatchGraph.nodes().length")
    member = ring["members"][0]["id"]
    driver.execute_script(
        "var cy = window.ringwatchGraph; cy.nodes().unselect();"
        " cy.getElementById(arguments[0]).select();",
        f"a:{member}",
    )
    driver.find_element(By.ID, "expand").click()
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-expanded]")))
    after = driver.execute_script("return window.ringwatchGraph.nodes().length")
    added = int(driver.find_element(By.ID, "graph").get_attribute("data-expanded") or 0)
    assert after == before + added
    # Every identifier the account holds is now drawn and tied to it.
    own = driver.execute_script(
        "return window.ringwatchGraph.getElementById(arguments[0]).neighborhood('node').length",
        f"a:{member}",
    )
    store = served.app.state.services.store  # type: ignore[attr-defined]
    held = sum(len(v) for v in results.account_view(store, member)["identifiers"].values())
    assert own >= min(held, 1)
    assert own >= held or held > 25


def test_resolve_a_review_item_and_see_the_account_banned(
    driver: WebDriver, served: Served
) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    driver.get(f"{served.url}/console/reviews")
    browser.shot(driver, "reviews")
    rows = driver.find_elements(By.CSS_SELECTOR, "#reviews tbody tr[data-review]")
    assert rows, "the detection run should have queued suspicious rings for review"
    row = rows[0]
    review_id = row.get_attribute("data-review")
    submit(driver, row.find_element(By.CSS_SELECTOR, "button.claim"))
    row = driver.find_element(By.CSS_SELECTOR, f"#reviews tr[data-review='{review_id}']")
    Select(row.find_element(By.NAME, "label")).select_by_visible_text("fraud")
    row.find_element(By.NAME, "note").send_keys("shared device farm")
    submit(driver, row.find_element(By.CSS_SELECTOR, "button.resolve-button"))
    effect = driver.find_element(By.ID, "effect-text").text
    assert effect.startswith("ban applied to")
    browser.shot(driver, "review-resolved")
    account = driver.find_element(By.CSS_SELECTOR, "#effect a.effect-account")
    account_id = account.text
    submit(driver, account)
    assert driver.find_element(By.ID, "account-id").text == account_id
    assert driver.find_element(By.ID, "account-status").text == "ban"
    actions = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#enforcement td.action")]
    assert "ban" in actions
    browser.shot(driver, "account")


def raw_phone(world: Path) -> tuple[str, str, str | None]:
    with open(world / "events.jsonl", "rb") as fh:
        for line in fh:
            event = orjson.loads(line)
            if event.get("phone"):
                return event["account_id"], event["phone"], event.get("country")
    raise AssertionError("the world has no phone numbers")


def test_search_by_raw_phone(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    account, phone, country = raw_phone(served.world)
    driver.get(f"{served.url}/console/search")
    Select(driver.find_element(By.ID, "search-kind")).select_by_visible_text("phone")
    driver.find_element(By.ID, "search-q").send_keys(phone)
    if country and not phone.startswith("+"):
        driver.find_element(By.NAME, "country").send_keys(country)
    driver.find_element(By.CSS_SELECTOR, "#search button").click()

    def results(d: WebDriver) -> list[str]:
        return [a.text for a in d.find_elements(By.CSS_SELECTOR, "#search-results a")]

    # The answer is a new page: on a busy machine it is not there the moment the click returns.
    wait(driver).until(lambda d: account in results(d))
    assert account in results(driver)
    # The raw number went into the request only: the answer shows its pseudonym, not the number.
    assert phone not in driver.page_source
    browser.shot(driver, "search")


def open_ring(driver: WebDriver, served: Served, ring_id: str) -> Any:
    driver.get(f"{served.url}/console/rings/{ring_id}")
    return wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-ready]"))
    )


def shown(driver: WebDriver, selector: str) -> int:
    return int(
        driver.execute_script(
            "return window.ringwatchGraph.elements(arguments[0]).not('.filtered').length",
            selector,
        )
    )


def test_ring_view_hides_a_kind_filters_by_time_and_exports(
    driver: WebDriver, served: Served
) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    ring = largest_fraud_ring(served)
    open_ring(driver, served, ring["id"])
    # The server placed every node: the picture is drawn at the positions it sent.
    unplaced = driver.execute_script(
        "return window.ringwatchGraph.nodes().filter(function (n) {"
        " return typeof n.data('x') !== 'number'; }).length"
    )
    assert unplaced == 0
    devices = shown(driver, "edge[kind = 'device']")
    assert devices > 0
    others = shown(driver, "edge[kind != 'device']")
    driver.find_element(By.CSS_SELECTOR, ".hide-kind[value='device']").click()
    wait(driver).until(lambda d: shown(d, "edge[kind = 'device']") == 0)
    assert shown(driver, "node[kind = 'device']") == 0
    assert shown(driver, "edge[kind != 'device']") == others
    driver.find_element(By.CSS_SELECTOR, ".hide-kind[value='device']").click()
    wait(driver).until(lambda d: shown(d, "edge[kind = 'device']") == devices)

    # A first-seen window after every link hides every dated link.
    dated = int(
        driver.execute_script(
            "return window.ringwatchGraph.edges().filter(function (e) {"
            " return !!e.data('first_seen'); }).length"
        )
    )
    assert dated > 0
    driver.execute_script(
        "var f = document.getElementById('time-from'); f.value = '2999-01-01T00:00';"
        " f.dispatchEvent(new Event('change'));"
    )
    total = int(driver.execute_script("return window.ringwatchGraph.edges().length"))
    wait(driver).until(lambda d: shown(d, "edge") == total - dated)
    driver.execute_script(
        "var f = document.getElementById('time-from'); f.value = '';"
        " f.dispatchEvent(new Event('change'));"
    )
    wait(driver).until(lambda d: shown(d, "edge") == total)

    # The exports are the graph the page drew: every edge in the CSV, every node in the JSON.
    fetched = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "Promise.all([document.getElementById('export-csv').href,"
        " document.getElementById('export-json').href].map(function (u) {"
        " return fetch(u, {credentials: 'same-origin'}).then(function (r) { return r.text(); });"
        "})).then(done);"
    )
    csv_rows = fetched[0].strip().splitlines()
    assert csv_rows[0] == "source,target,type,kind,first_seen"
    assert len(csv_rows) - 1 == total
    exported = orjson.loads(fetched[1])
    assert len(exported["nodes"]) == int(
        driver.execute_script("return window.ringwatchGraph.nodes().length")
    )
    png = driver.execute_script(
        "return window.ringwatchGraph.png({full: true, scale: 1}).slice(0, 22)"
    )
    assert png == "data:image/png;base64,"
    history = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#history li")]
    assert any(h.startswith("created") for h in history), history


def test_expand_an_identifier_with_n_more(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    store = served.app.state.services.store  # type: ignore[attr-defined]
    page = ring_graph.EXPAND_PAGE
    # A ring holding an identifier used by more accounts than one expansion page shows.
    for r in sorted(results.export_rings(store), key=lambda r: -len(r["members"])):
        graph = ring_graph.ring_graph(store, r["ring_id"])
        wide = [n for n in graph["nodes"] if n["type"] == "identifier" and n["accounts"] > page]
        if wide:
            break
    assert wide, "the generated world should hold an identifier shared by many accounts"
    node = max(wide, key=lambda n: (n["accounts"], n["id"]))
    open_ring(driver, served, r["ring_id"])
    driver.execute_script(
        "var cy = window.ringwatchGraph; cy.nodes().unselect();"
        " cy.getElementById(arguments[0]).select();",
        node["id"],
    )
    expand = wait(driver).until(ec.element_to_be_clickable((By.ID, "expand")))
    expand.click()
    graph_box = wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-expansions='1']"))
    )
    more = wait(driver).until(ec.visibility_of_element_located((By.ID, "more")))
    remaining = node["accounts"] - page
    assert more.text == f"{remaining} more"

    def degree(d: WebDriver) -> int:
        return int(
            d.execute_script(
                "return window.ringwatchGraph.getElementById(arguments[0]).degree()", node["id"]
            )
        )

    first = degree(driver)
    assert first >= page
    more.click()
    wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-expansions='2']"))
    )
    assert degree(driver) >= min(node["accounts"], 2 * page)
    assert graph_box.get_attribute("data-expanded") is not None
    browser.shot(driver, "ring-expanded")


def test_rings_filter_by_last_change(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    driver.get(f"{served.url}/console/rings")
    everything = driver.find_elements(By.CSS_SELECTOR, "#rings tbody tr")
    assert everything
    assert all(td.text for td in driver.find_elements(By.CSS_SELECTOR, "#rings td.age"))
    driver.execute_script("document.getElementById('changed-since').value = '2999-01-01T00:00'")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert driver.find_elements(By.CSS_SELECTOR, "#rings tbody tr") == []
    driver.execute_script("document.getElementById('changed-since').value = '2000-01-01T00:00'")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#rings tbody tr")) == len(everything)


def test_account_lists_its_neighbours(driver: WebDriver, served: Served) -> None:
    sign_in(driver, served, Role.INVESTIGATOR)
    store = served.app.state.services.store  # type: ignore[attr-defined]
    member = largest_fraud_ring(served)["members"][0]["id"]
    driver.get(f"{served.url}/console/accounts/{member}")
    wait(driver).until(lambda d: d.find_element(By.ID, "account-id").text == member)
    listed = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#neighbours a.neighbour")]
    assert listed, "a fraud ring member shares identifiers with other accounts"
    mine = {
        (kind, r["key"])
        for kind, rows in results.account_view(store, member)["identifiers"].items()
        for r in rows
    }
    # Each neighbour really holds one of the account's identifiers.
    for other in listed[:5]:
        theirs = {
            (kind, r["key"])
            for kind, rows in results.account_view(store, other)["identifiers"].items()
            for r in rows
        }
        assert mine & theirs, other
    assert member not in listed
