"""The HTML fleet report: self-contained, host text escaped, C0 characters dropped; then the report
of a 200-host lab run opened in headless chromium: every drifted host visible, search, sort, chart."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fleet.conftest import MakeFleet
from playwright.sync_api import Page, expect
from state.conftest import Clock

from provisioner import cli
from provisioner.report.html import TREND_RUNS, build_context, render_html
from provisioner.state.records import HostRecord, ResourceRecord
from provisioner.state.store import Store

from .conftest import ARTEFACTS, Browser

HOSTILE = "<script>alert('x')</script>\x1b[31m\x00bell\x07"


def hostile_store(path: Path, clock: Clock) -> Store:
    store = Store.open(path, clock=clock)
    run_id = store.begin_run(kind="check", playbook="site.yml")
    diff = [{"path": "daemon.labels", "before": HOSTILE, "after": "<b>wanted</b>"}]
    store.record(
        run_id,
        [
            HostRecord(
                host="lab-<i>0001</i>",
                play="p",
                status="drift",
                plan_digest="d",
                message="",
                facts={"os": {"edition_id": HOSTILE}},
                resources=[ResourceRecord("daemon/config", "daemon_config", "drift", diff)],
            ),
            HostRecord(host="lab-0002", play="p", status="failed", plan_digest="d", message=f"script said {HOSTILE}"),
        ],
    )
    store.finish_run(run_id, exit_code=3, summary={"drift": 1, "failed": 1})
    return store


def test_host_text_is_escaped_and_control_characters_dropped(tmp_path: Path, clock: Clock) -> None:
    with hostile_store(tmp_path / "h.db", clock) as store:
        page = render_html(build_context(store))
    assert "<script>alert" not in page and "<i>0001</i>" not in page and "<b>wanted</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;[31mbell" in page
    assert "lab-&lt;i&gt;0001&lt;/i&gt;" in page
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", page)
    # Self-contained: one inline script of our own, no external reference of any kind.
    assert page.count("<script") == 1 and "<link" not in page and "@import" not in page
    assert re.findall(r"""(?:src|href)=["'](?!#)""", page) == []
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_the_chart_covers_the_last_runs_up_to_the_chosen_one(tmp_path: Path, clock: Clock) -> None:
    with Store.open(tmp_path / "h.db", clock=clock) as store:
        ids = []
        for day in range(TREND_RUNS + 5):
            clock.advance(days=1)
            run_id = store.begin_run(kind="check", playbook="site.yml")
            drifted = day % 4
            store.record(
                run_id,
                [
                    HostRecord(
                        host=f"h{i}",
                        play="p",
                        status="drift" if i < drifted else "ok",
                        plan_digest="d",
                        resources=[ResourceRecord("r", "t", "drift", [{"path": "x", "before": 1, "after": 2}])]
                        if i < drifted
                        else [],
                    )
                    for i in range(5)
                ],
            )
            ids.append(run_id)
        latest = build_context(store)
        assert [r["id"] for r in latest["chart"]["rows"]] == ids[-TREND_RUNS:]
        assert [r["out"] for r in latest["chart"]["rows"]] == [d % 4 for d in range(5, TREND_RUNS + 5)]
        assert latest["run"]["id"] == ids[-1] and latest["chart"]["rows"][-1]["chosen"]
        older = build_context(store, run_id=ids[10][:10])
        assert [r["id"] for r in older["chart"]["rows"]] == ids[:11]
        assert older["drifted_hosts"] == 10 % 4 and older["total"] == 5
        since = build_context(store, since=clock.now - timedelta(days=2, hours=1))
        assert [r["id"] for r in since["chart"]["rows"]] == ids[-3:]


def drifted_lab_run(make_fleet: MakeFleet, clock: Clock, state: Path) -> tuple[dict[str, set[str]], Path]:
    """A 200-host lab: a clean check, then drift on 30 hosts of three kinds and a check a day
    later; returns the drifted hosts per property and the report written by ``provision report``."""
    fleet = make_fleet(200, "server2022-converged:3,server2025-converged,server2019-converged")
    playbook = fleet.playbook(rollout={"forks": 50})
    assert fleet.cli("check", playbook, "--state", str(state), report=False).code == 0
    clock.advance(days=1)
    drifted: dict[str, set[str]] = {
        "daemon.log-level": set(),
        "engine.service.status": set(),
        "features.Containers": set(),
    }
    for index in range(30):
        name = f"lab-{6 * index + 5:04d}"
        if index % 3 == 0:
            fleet.host(name).set_daemon_key("log-level", '"debug"')
            drifted["daemon.log-level"].add(name)
        elif index % 3 == 1:
            fleet.host(name).stop_service("docker")
            drifted["engine.service.status"].add(name)
        else:
            fleet.host(name).set_feature("Containers", "Disabled")
            drifted["features.Containers"].add(name)
    second = fleet.cli("check", playbook, "--state", str(state), report=False)
    assert second.code == 2
    html = state.parent / "report.html"
    assert cli.run(["report", "--state", str(state), "--html", str(html)]) == 0
    return drifted, html


def test_the_report_of_a_200_host_lab_run_shows_every_drifted_host_in_chromium(
    make_fleet: MakeFleet, clock: Clock, browser: Browser, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    drifted, html = drifted_lab_run(make_fleet, clock, tmp_path / "history.db")
    everyone = set().union(*drifted.values())
    assert len(everyone) == 30
    page: Page = browser.page  # type: ignore[assignment]

    page.goto(html.as_uri())

    # Nothing but the file itself was requested: no CDN, font or image.
    assert browser.requests == [html.as_uri()]
    cards = {el.get_attribute("data-status"): el.inner_text() for el in page.locator(".card").all()}
    assert cards == {"drift": "30\ndrift", "ok": "170\nok"}
    # Drift grouped by property, every host listed under its property and visible.
    rows = page.locator("#drift-table tbody tr")
    expect(rows).to_have_count(3)
    shown: dict[str, set[str]] = {}
    for row in rows.all():
        prop = row.locator("td").nth(0).inner_text()
        chips = row.locator("a.host")
        assert all(chip.is_visible() for chip in chips.all())
        shown[prop] = {chip.inner_text() for chip in chips.all()}
    assert shown == drifted
    # The chart: two runs, the chosen one with 30 hosts out of state and the first with none.
    chart = page.locator("#trend-chart g.run")
    expect(chart).to_have_count(2)
    assert [g.get_attribute("data-out") for g in chart.all()] == ["0", "30"]
    assert page.locator("#trend-chart rect.bar-out.chosen").bounding_box()["height"] > 100  # type: ignore[index]

    # Search: each drifted host alone among the host rows, its chip highlighted, its detail kept.
    search = page.locator("#search")
    for name in sorted(everyone):
        search.fill(name)
        visible_rows = page.locator("#host-table tbody tr:not(.hidden)")
        expect(visible_rows).to_have_count(1)
        assert visible_rows.locator("a.host-name").inner_text() == name
        expect(page.locator(f"#drift-table a.host.hit[data-host='{name}']")).to_be_visible()
        expect(page.locator("#search-count")).to_have_text("1 host match")
    search.fill("engine.service")
    assert page.locator("#host-table tbody tr:not(.hidden)").count() == len(drifted["engine.service.status"])
    search.fill("")
    expect(page.locator("#host-table tbody tr:not(.hidden)")).to_have_count(200)

    # Sorting: by host count ascending then descending; hosts by name descending.
    counts_header = page.locator("#drift-table th", has_text="hosts")
    counts_header.click()
    counts = [int(t) for t in page.locator("#drift-table tbody tr td:nth-child(4)").all_inner_texts()]
    assert counts == sorted(counts) and sum(counts) == 30
    page.locator("#host-table th", has_text="host").first.click()
    page.locator("#host-table th", has_text="host").first.click()
    names = page.locator("#host-table tbody tr td:first-child").all_inner_texts()
    assert names[0] == "lab-0200" and names == sorted(names, reverse=True)
    page.locator("#host-table th", has_text="out of state").click()
    page.locator("#host-table th", has_text="out of state").click()
    statuses = page.locator("#host-table tbody tr td:nth-child(2)").all_inner_texts()
    assert Counter(statuses[:30]) == {"drift": 30}

    # Per-host detail: a link opens the host's facts and its diff.
    name = sorted(drifted["features.Containers"])[0]
    page.locator(f"#drift-table a.host[data-host='{name}']").click()
    detail = page.locator("details.host-detail[open]")
    expect(detail).to_have_count(1)
    text = detail.inner_text()
    assert name in text and "features.Containers" in text and "Disabled" in text and "os.build" in text

    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "fleet-report-200-hosts.png"
    page.locator("#search").fill("")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    with capfd.disabled():
        print(f"\nscreenshot: {shot}")
