"""A user's journey in the browser, after login: JupyterLab, a notebook that uses a Dask
Gateway cluster, its dashboard, then stopping the server and logging out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The values the notebook computes and the test checks.
ARRAY_SIZE = 1_000_000
EXPECTED_SUM = ARRAY_SIZE * (ARRAY_SIZE - 1) // 2
WORKERS = 2

CLUSTER_CELL = f"""\
from dask_gateway import Gateway
import dask.array as da
gateway = Gateway()
options = gateway.cluster_options()
options.worker_cores = 1
options.worker_memory = 1.0
cluster = gateway.new_cluster(options)
cluster.scale({WORKERS})
client = cluster.get_client()
client.wait_for_workers({WORKERS}, timeout=180)
info = client.scheduler_info()
workers = info["workers"].values()
print("WORKERS", len(info["workers"]), sorted({{w["nthreads"] for w in workers}}))
print("RESULT", int(da.arange({ARRAY_SIZE}, chunks={ARRAY_SIZE // 10}).sum().compute()))
print("DASHBOARD", cluster.dashboard_link)
"""

SHUTDOWN_CELL = """\
client.close()
cluster.shutdown()
print("CLUSTERS_LEFT", len(gateway.list_clusters()))
"""


@dataclass(frozen=True)
class NotebookResult:
    workers: int
    threads: str
    total: int
    dashboard: str


def wait_for_lab(page: Any, timeout_ms: int = 180_000) -> None:
    """JupyterLab has loaded and shows its launcher."""
    page.wait_for_url(re.compile(r"/user/[^/]+/lab"), timeout=timeout_ms)
    page.locator(".jp-Launcher").first.wait_for(timeout=timeout_ms)


def _run_cell(page: Any, code: str, marker: str, timeout_ms: int) -> str:
    """Type code into the last cell, run it, and return its output once marker appears."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    # Running a cell adds a new one below; pin this one by index (locators are lazy).
    cell = cells.nth(cells.count() - 1)
    editor = cell.locator(".cm-content")
    editor.click()
    # insert_text types no key events, so the editor adds no brackets or indentation.
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    # The prompt turns from "[ ]:" to "[*]:" (running) or "[n]:" once the kernel has the cell.
    cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(
        timeout=60_000
    )
    output = cell.locator(".jp-OutputArea-output")
    # Stop waiting at the first exception instead of running into the timeout.
    failed = output.filter(has_text=re.compile(r"\b\w*(Error|Exception)\b"))
    output.filter(has_text=marker).or_(failed).first.wait_for(timeout=timeout_ms)
    text = "\n".join(output.all_inner_texts())
    assert marker in text and failed.count() == 0, text
    return text


def create_notebook(page: Any) -> None:
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for(timeout=60_000)
    # A cell run before the kernel is connected can be dropped: wait until it is idle.
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle")).wait_for(
        timeout=120_000
    )


def run_cluster_cell(page: Any) -> NotebookResult:
    text = _run_cell(page, CLUSTER_CELL, "DASHBOARD", timeout_ms=300_000)
    workers = re.search(r"WORKERS (\d+) (\[[^\]]*\])", text)
    total = re.search(r"RESULT (\d+)", text)
    link = re.search(r"DASHBOARD (\S+)", text)
    assert workers and total and link, text
    return NotebookResult(
        int(workers.group(1)), workers.group(2), int(total.group(1)), link.group(1)
    )


def run_shutdown_cell(page: Any) -> int:
    text = _run_cell(page, SHUTDOWN_CELL, "CLUSTERS_LEFT", timeout_ms=120_000)
    left = re.search(r"CLUSTERS_LEFT (\d+)", text)
    assert left, text
    return int(left.group(1))


def open_dashboard(page: Any, hub_url: str, link: str) -> Any:
    """Open the cluster's dashboard in a new tab; returns that page once it has rendered."""
    url = link if link.startswith("http") else hub_url + "/" + link.lstrip("/")
    dash = page.context.new_page()
    response = dash.goto(url, wait_until="load", timeout=60_000)
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    # Bokeh draws the status page's plots into canvases once its document has loaded.
    dash.locator("canvas").first.wait_for(timeout=60_000)
    return dash


def xsrf_header(page: Any) -> dict[str, str]:
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "_xsrf"), "")
    return {"X-XSRFToken": token}


def stop_server_and_log_out(page: Any, hub_url: str, username: str) -> None:
    page.goto(f"{hub_url}/hub/home")
    page.locator("#stop").click()
    page.locator("#start").wait_for(state="visible", timeout=120_000)
    # The page flips before the hub has finished stopping; ask the hub until it has.
    for _ in range(120):
        me = page.request.get(f"{hub_url}/hub/api/user", headers=xsrf_header(page))
        assert me.ok, me.status
        assert me.json()["name"] == username
        if me.json()["servers"] == {}:
            break
        page.wait_for_timeout(500)
    assert me.json()["servers"] == {}, me.json()["servers"]
    page.locator("#logout").click()
    page.wait_for_url(re.compile(r"/hub/login"), timeout=60_000)
    # Logged out: the hub sends the browser back to its login page.
    page.goto(f"{hub_url}/hub/home")
    page.wait_for_url(re.compile(r"/hub/login"), timeout=60_000)


def sidebar_new_cluster_shows_plots(page: Any) -> str:
    """The Dask sidebar's "+NEW": a cluster appears, its dashboard connects, and a plot draws.

    Returns the dashboard URL the extension shows for the cluster.
    """
    page.locator('.lm-TabBar-tab[data-id="dask-dashboard-launcher"]').click()
    page.get_by_title("Start New Dask Cluster").click()
    item = page.locator(".dask-ClusterListingItem").first
    item.wait_for(timeout=300_000)
    item.locator(".dask-ClusterListingItem-title").click()
    url_input = page.locator(".dask-URLInput input").first
    # Connected: the plot buttons are enabled and "Dashboard not connected" is gone.
    task_stream = page.locator(".dask-DashboardListing-item button", has_text="Task Stream")
    task_stream.first.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dask-DashboardListing-item button')]"
        ".some(b => !b.disabled)",
        timeout=120_000,
    )
    assert page.locator(".dask-DashboardListing-inactive-title").count() == 0
    link = url_input.input_value()
    page.locator(".dask-DashboardListing-item button", has_text="Progress").first.click()
    frame = page.frame_locator(".dask-DaskDashboard-widget iframe").first
    # Bokeh draws the plot into a canvas once its document arrived over the websocket.
    frame.locator("canvas").first.wait_for(timeout=120_000)
    return link


def sidebar_shutdown_cluster(page: Any) -> None:
    item = page.locator(".dask-ClusterListingItem").first
    item.locator(".dask-ClusterListingItem-stop").click()
    page.locator(".dask-ClusterListingItem").first.wait_for(state="detached", timeout=120_000)
