"""The dashboard in a real browser (Debian's chromium, driven by selenium through
chromium-driver): the overview, a task's page from the list, a task created by
another process appearing without a reload, and retry and cancel with actions
enabled. Saves a screenshot of each page into the directory given.

Run by scripts/browser-test, which builds `durable`, makes the database, starts
`durable ui` and passes: DURABLE (the binary), DB (the database), BASE (the
dashboard's address), SHOTS (where screenshots go), WORK (a scratch directory).
"""

import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

DURABLE, DB, BASE, SHOTS, WORK = (os.environ[name] for name in ("DURABLE", "DB", "BASE", "SHOTS", "WORK"))


def browser():
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print(f"browser-test: screenshot {path}")


# A live refresh swaps the page's content: an element read just before it is stale.
SWAPPED = (StaleElementReferenceException, NoSuchElementException)


def holds(expected, driver):
    """Whether `expected(driver)` holds now (not while the page is being swapped)."""
    try:
        return bool(expected(driver))
    except SWAPPED:
        return False


def click_until(driver, button_text, expected, what):
    """Clicks the button labelled `button_text` until `expected(driver)` holds: a
    live refresh may swap the page's content (and the button) just as it is
    clicked, or just as the result is read, so a click that led nowhere is made
    again, at most three times, unless what it was for has happened meanwhile."""
    for attempt in range(3):
        if attempt > 0 and holds(expected, driver):
            return True
        try:
            driver.find_element(By.XPATH, f"//button[text()='{button_text}']").click()
            WebDriverWait(driver, 10, ignored_exceptions=SWAPPED).until(expected)
            return True
        except Exception as error:
            print(f"browser-test: {what}: click {attempt + 1} led nowhere ({type(error).__name__}) at "
                  f"{driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text[:300]!r}")
    if holds(expected, driver):
        return True
    shot(driver, what + "-failed")
    return False


def durable_run(lines, name):
    path = os.path.join(WORK, name)
    with open(path, "w") as file:
        file.write(lines)
    subprocess.run([DURABLE, "run", path, "--db", DB], check=False, capture_output=True)


def main():
    driver = browser()
    wait = WebDriverWait(driver, 30)
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    try:
        # The overview: counts, the chart, the failures.
        driver.get(BASE + "/")
        wait.until(ready.presence_of_element_located((By.TAG_NAME, "h1")))
        check(driver.find_element(By.TAG_NAME, "h1").text == "Overview", "the overview opens")
        check("Tasks by status" in driver.page_source, "the overview counts tasks by status")
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg.throughput")) == 1, "the overview draws its chart")
        check("exit 3" in driver.page_source or "failed" in driver.page_source, "the overview shows the failure")
        shot(driver, "overview")

        # The list, then a task's page by its link.
        driver.find_element(By.LINK_TEXT, "Tasks").click()
        wait.until(ready.title_contains("Tasks"))
        shot(driver, "tasks")
        driver.find_element(By.CSS_SELECTOR, "tbody tr td a").click()
        wait.until(ready.presence_of_element_located((By.XPATH, "//h2[text()='Input']")))
        check(driver.current_url.startswith(BASE + "/tasks/"), "a task's page opens from the list")
        shot(driver, "task")

        # Live: a task created by another process appears without a reload.
        driver.get(BASE + "/tasks")
        wait.until(ready.title_contains("Tasks"))
        driver.execute_script("window.durableNoReload = 'kept';")
        time.sleep(1)  # the page's event stream connects
        started = time.monotonic()
        durable_run("echo live-marker\n", "live.txt")
        ran = time.monotonic() - started
        try:
            WebDriverWait(driver, 60).until(lambda d: "live-marker" in d.find_element(By.TAG_NAME, "main").text)
            appeared = True
        except Exception:
            appeared = False
        check(appeared, f"a task created by another process appears in the list "
                        f"(durable run took {ran:.1f} s; seen {time.monotonic() - started:.1f} s after it started)")
        check(driver.execute_script("return window.durableNoReload") == "kept", "... without a reload")
        shot(driver, "tasks-live")

        # Actions: the failed line's task is retried, then cancelled.
        driver.get(BASE + "/tasks?status=failed")
        wait.until(ready.title_contains("Tasks"))
        driver.find_element(By.CSS_SELECTOR, "tbody tr td a").click()
        wait.until(ready.presence_of_element_located((By.XPATH, "//button[text()='Retry']")))
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg.timeline rect.run-failed")) == 1,
              "a task's page draws its run on a timeline")
        shot(driver, "task-failed")
        retried = click_until(
            driver, "Retry", ready.presence_of_element_located((By.XPATH, "//button[text()='Cancel']")), "retry")
        check(retried and "pending" in driver.find_element(By.TAG_NAME, "main").text,
              "Retry makes the failed task pending")
        cancelled = click_until(
            driver, "Cancel", lambda d: "cancelled from the dashboard" in d.find_element(By.TAG_NAME, "main").text,
            "cancel")
        check(cancelled, "Cancel cancels it")
        shot(driver, "task-cancelled")

        # A search for a task id goes to its page.
        driver.get(BASE + "/tasks")
        search = driver.find_element(By.NAME, "search")
        search.send_keys("1")
        search.submit()
        wait.until(lambda d: d.current_url.endswith("/tasks/1"))
        check(driver.current_url.endswith("/tasks/1"), "the search box takes a task id to its page")
        shot(driver, "task-searched")

        # /metrics: the database's state in Prometheus' text format.
        driver.get(BASE + "/metrics")
        check('durable_stored_tasks{job=' in driver.page_source, "/metrics answers in Prometheus' text format")

        # An unknown task: a 404 page.
        driver.get(BASE + "/tasks/999999")
        check("404" in driver.find_element(By.TAG_NAME, "h1").text, "an unknown task gives a 404 page")
    finally:
        driver.quit()
    if failures:
        print(f"browser-test: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("browser-test: every check passed")


main()
