"""The task page in a real browser, on a task that fails at once (a connection test to a
closed loopback port): the failed line is highlighted, only the failed steps can be shown,
cancel gives way to retry, and a retry opens its own task page that follows live."""

from tests.service_process import free_port


def test_a_failed_task_is_highlighted_and_retried_from_its_page(browser, service):
    server = service.api(
        "POST", "servers", {"name": "closed", "host": "127.0.0.1", "port": free_port()}
    )
    browser.login(service.admin_token)
    browser.open("/servers")
    browser.find(f"tr[data-server-id='{server['id']}'] button[data-action=test]").click()
    first = browser.attribute_of(
        f"tr[data-server-id='{server['id']}'] [data-field=task] a[data-task-id]", "data-task-id"
    )
    browser.open(f"/tasks/{first}")
    browser.marker()
    assert browser.task_end() == "failed"
    failed = browser.find("ol#log > li.failed")
    assert failed.text.startswith("unreachable: [closed]"), failed.text
    assert not browser.find("#cancel").is_displayed()
    browser.find("#failed-only").click()
    shown = [li for li in browser.all("ol#log > li") if li.is_displayed()]
    assert shown == browser.all("ol#log > li.failed"), [li.text for li in shown]
    assert not browser.reloaded(), "the task page reloaded"
    browser.screenshot("task-failed")

    browser.visible("#retry").click()
    browser.wait(lambda _: browser.path() not in (f"/tasks/{first}", ""))
    assert browser.path().startswith("/tasks/"), browser.path()
    assert browser.task_end() == "failed"
    assert browser.find("ol#log > li.failed").text.startswith("unreachable: [closed]")


def test_servers_selected_on_the_servers_page_run_as_one_task(browser, service):
    servers = [
        service.api("POST", "servers", {"name": name, "host": "127.0.0.1", "port": free_port()})
        for name in ("pick-a", "pick-b", "pick-c")
    ]
    browser.login(service.admin_token)
    browser.open("/servers?q=pick-")
    test_selected = browser.find("button[data-many=test]")
    assert not test_selected.is_enabled(), "nothing is selected yet"
    for server in (servers[2], servers[0]):
        browser.find(f"tr[data-server-id='{server['id']}'] input.pick").click()
    assert browser.text_of("#selected-count") == "2 selected"
    test_selected.click()

    browser.wait(lambda _: browser.path().startswith("/tasks/"))
    assert browser.task_end() == "failed"
    task = service.api("GET", f"tasks/{browser.path().rsplit('/', 1)[1]}")
    assert task["server_ids"] == [servers[0]["id"], servers[2]["id"]]
    assert set(task["result"]["hosts"]) == {"pick-a", "pick-c"}
    shown = browser.wait_for_text("#hosts", lambda text: "pick-a" in text and "pick-c" in text)
    assert "pick-b" not in shown

    browser.open("/servers?q=pick-")
    browser.find("#select-all").click()
    assert browser.text_of("#selected-count") == "3 selected"
    browser.find("button[data-many=lockdown]").click()
    assert "selected servers" in browser.visible("#confirm-text").text
    browser.find("#confirm-no").click()
    assert browser.path() == "/servers", "a lockdown that was not confirmed starts nothing"
