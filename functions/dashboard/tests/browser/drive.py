"""Drives headless Chromium through the dashboard as a person would, for tests/browser.rs.

Usage: python drive.py PLAN_JSON. The plan says which scenario to play, where the dashboard is, the
guild, the browser's files and where screenshots go. The script clicks, types and presses keys with
WebDriver (Debian's chromedriver, given by path: Selenium Manager never runs, nothing downloads), checks
that each step lands where a person expects (an AssertionError otherwise), and prints one JSON report on
stdout: what each page showed (the day table's rows, the figures, the charts), where Tab went, and every
entry of the browser's console. The Rust test compares the numbers with the fake Discord's ground truth.

Scenarios:
  owner     log in, pick the guild, read the overview (desktop and phone), change the period with the
            links, the keyboard and the from/to form, log out, then open the overview's address again.
  outsider  log in as someone who is not in the guild and open its overview's address.
"""

import base64
import json
import os
import sys
import traceback
from urllib.parse import parse_qs, urlsplit

# Belt and braces: the driver's path is given, so Selenium Manager has nothing to find; were it asked
# anyway, it must not go online.
os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

DESKTOP = (1280, 900)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DARK = {"name": "prefers-color-scheme", "value": "dark"}
WAIT_SECONDS = 20

# What a page shows, read in one call: headings, the period, the figures, the day table, the charts,
# the layout's fit and duplicate ids. innerText is the rendered text, as a person reads it.
OBSERVE = r"""
const text = (el) => (el ? el.innerText.trim() : null);
const main = document.querySelector('main');
const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
const current = document.querySelector('.periods a[aria-current]');
const input = (name) => document.querySelector(`form.range input[name="${name}"]`);
return {
  url: location.href,
  title: document.title,
  h1: text(document.querySelector('h1')),
  subtitle: text(main && main.querySelector(':scope > p.muted')),
  paragraphs: [...(main ? main.querySelectorAll(':scope > p') : [])].map(text),
  current_period: text(current),
  period_links: [...document.querySelectorAll('.periods a')].map((a) => [text(a), a.getAttribute('href')]),
  from: input('from') ? input('from').value : null,
  to: input('to') ? input('to').value : null,
  figures: [...document.querySelectorAll('.figures li')].map((li) => [
    li.firstChild ? li.firstChild.textContent.trim() : '', text(li.querySelector('strong'))]),
  days: [...document.querySelectorAll('#days tbody tr')].map((tr) => [...tr.cells].map(text)),
  charts: [...document.querySelectorAll('svg.chart')].map((svg) => {
    const r = svg.getBoundingClientRect();
    const kind = [...svg.classList].find((c) => c.startsWith('chart-'));
    const title = svg.querySelector(':scope > title');
    return { kind: kind ? kind.slice(6) : null, title: title ? title.textContent : null,
             role: svg.getAttribute('role'), left: r.left, right: r.right, width: r.width, height: r.height };
  }),
  guild_links: [...document.querySelectorAll('ul.guilds a')].map((a) => [text(a), a.getAttribute('href')]),
  viewport_width: document.documentElement.clientWidth,
  scroll_width: document.documentElement.scrollWidth,
  duplicate_ids: ids.filter((id, i) => ids.indexOf(id) !== i),
};
"""

# The focused element, as a person would identify it, and whether a focus ring shows.
FOCUSED = r"""
const el = document.activeElement;
if (!el || el === document.body) return { tag: 'body', text: '', href: null, outline: 'none' };
const style = getComputedStyle(el);
return { tag: el.tagName.toLowerCase(), text: el.innerText.trim(), href: el.getAttribute('href'),
         outline: style.outlineStyle === 'none' ? 'none' : `${style.outlineWidth} ${style.outlineStyle}` };
"""


class Session:
    def __init__(self, plan):
        self.plan = plan
        self.base = plan["base"]
        self.report = {"pages": [], "console": [], "keyboard": {}, "screenshots": []}
        os.makedirs(plan["screenshots"], exist_ok=True)
        stale = os.path.join(plan["screenshots"], f"failure-{plan['scenario']}.png")
        if os.path.exists(stale):
            os.remove(stale)
        options = webdriver.ChromeOptions()
        options.binary_location = plan["chromium"]
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--lang=en-US", "--no-first-run", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=plan["chromedriver"],
                          log_output=os.path.join(plan["screenshots"], f"chromedriver-{plan['scenario']}.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_window_size(*DESKTOP)
        self.driver.set_page_load_timeout(WAIT_SECONDS)
        self.report["browser"] = self.driver.capabilities.get("browserVersion")

    # -- plumbing ---------------------------------------------------------------------------------------

    def path(self):
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def wait(self, condition, what):
        try:
            return WebDriverWait(self.driver, WAIT_SECONDS).until(lambda d: condition())
        except Exception as error:
            raise AssertionError(f"waited {WAIT_SECONDS} s for {what}; at {self.driver.current_url}") from error

    def wait_for_path(self, check, what):
        self.wait(lambda: check(self.path()) and self.driver.execute_script("return document.readyState") == "complete",
                  what)

    def console(self, page):
        """Moves the console's entries since the last call into the report, tagged with `page`."""
        for entry in self.driver.get_log("browser"):
            self.report["console"].append({"page": page, "level": entry.get("level"),
                                           "source": entry.get("source"), "message": entry.get("message")})

    def observe(self, name):
        page = self.driver.execute_script(OBSERVE)
        page["name"] = name
        self.report["pages"].append(page)
        self.console(name)
        return page

    def screenshot(self, name, full_page=False):
        path = os.path.join(self.plan["screenshots"], f"{name}.png")
        if full_page:
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
            with open(path, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
        else:
            assert self.driver.save_screenshot(path), f"screenshot {path}"
        self.report["screenshots"].append(path)

    def focused(self):
        return self.driver.execute_script(FOCUSED)

    def tab_until(self, wanted, limit):
        """Presses Tab until `wanted(focused)` holds; every stop on the way, in order."""
        stops = []
        for _ in range(limit):
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
            stops.append(self.focused())
            if wanted(stops[-1]):
                return stops
        raise AssertionError(f"{limit} presses of Tab never reached it; focus went to {stops}")

    def link(self, text):
        links = [a for a in self.driver.find_elements(By.TAG_NAME, "a") if a.text.strip() == text]
        assert len(links) == 1, f"one link {text!r} on {self.driver.current_url}, found {len(links)}"
        assert links[0].is_displayed(), f"the link {text!r} is visible"
        return links[0]

    def button(self, text):
        buttons = [b for b in self.driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == text]
        assert len(buttons) == 1, f"one button {text!r} on {self.driver.current_url}, found {len(buttons)}"
        assert buttons[0].is_displayed(), f"the button {text!r} is visible"
        return buttons[0]

    def h1(self):
        return self.driver.find_element(By.TAG_NAME, "h1").text.strip()

    # -- what a person does ---------------------------------------------------------------------------

    def open(self, path):
        self.driver.get(self.base + path)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete", f"{path} to load")

    def log_in(self):
        """From the landing page: Tab reaches the login link; a click on it comes back to the picker."""
        self.open("/")
        assert self.h1() == "Server engagement", f"the landing page, not {self.h1()!r}"
        self.console("landing")
        stops = self.tab_until(lambda f: f["href"] == "/login", limit=6)
        self.report["keyboard"]["landing"] = stops
        self.link("Log in with Discord").click()
        self.wait_for_path(lambda p: p == "/", "the login to come back to the picker")
        assert self.h1() == "Your servers", f"the picker after the login, not {self.h1()!r}"
        self.console("login")

    def open_overview(self, guild, name):
        """Clicks the guild in the picker and waits for its overview."""
        links = [a for a in self.driver.find_elements(By.CSS_SELECTOR, "ul.guilds a")
                 if a.get_attribute("href").endswith(f"/g/{guild}")]
        assert len(links) == 1, f"the picker lists guild {guild} once"
        assert links[0].text.strip() == name, f"the picker names the guild {name!r}, not {links[0].text!r}"
        links[0].click()
        self.wait_for_path(lambda p: p == f"/g/{guild}", "the overview")
        assert self.h1() == name, f"the overview's heading is the guild's name, not {self.h1()!r}"

    def read_overview(self, name):
        """Opens "the numbers behind the chart" with a click and reads the page."""
        table = self.driver.find_element(By.ID, "days")
        assert not table.is_displayed(), "the day table starts folded"
        summary = self.driver.find_element(By.XPATH, "//details[.//table[@id='days']]/summary")
        summary.click()
        self.wait(table.is_displayed, "the day table to unfold")
        charts = self.driver.find_elements(By.CSS_SELECTOR, "svg.chart")
        hidden = [i for i, chart in enumerate(charts) if not chart.is_displayed()]
        assert not hidden, f"charts {hidden} of {len(charts)} are not visible on {name}"
        return self.observe(name)

    def choose_period_link(self, label, param, name):
        self.link(label).click()
        self.wait_for_path(lambda p: parse_qs(urlsplit(p).query).get("period") == [param], f"the {label} link")
        return self.read_overview(name)

    def follow_from_overview(self, label, prefix):
        """Opens the guild's all-time overview and clicks its link `label`, to a page under `prefix`."""
        self.open(f"/g/{self.plan['guild']}?period=all")
        self.link(label).click()
        self.wait_for_path(lambda p: p.startswith(prefix), f"the link {label!r}")

    def follow_first(self, summary, prefix):
        """Unfolds the list of links under `summary` with a click and follows its first link."""
        summaries = [s for s in self.driver.find_elements(By.TAG_NAME, "summary") if s.text.strip() == summary]
        assert len(summaries) == 1, f"one list {summary!r} on {self.driver.current_url}"
        summaries[0].click()
        links = summaries[0].find_elements(By.XPATH, "../ul/li/a")
        assert links, f"links under {summary!r}"
        self.wait(links[0].is_displayed, f"the list {summary!r} to unfold")
        links[0].click()
        self.wait_for_path(lambda p: p.startswith(prefix), f"the first of {summary!r}")

    def type_date(self, field, day):
        """Types `day` (YYYY-MM-DD) into a date field as en-US shows it: month, day, year."""
        element = self.driver.find_element(By.CSS_SELECTOR, f"form.range input[name='{field}']")
        element.clear()
        year, month, dom = day.split("-")
        # Focus lands on the first part (the month); each part moves on to the next once typed.
        element.send_keys(month + dom + year)
        value = element.get_attribute("value")
        assert value == day, f"typing {day} into {field} gave {value!r}"

    # -- scenarios ------------------------------------------------------------------------------------

    def owner(self):
        plan = self.plan
        guild, name = plan["guild"], plan["guild_name"]
        self.log_in()
        self.screenshot("picker-desktop")
        self.open_overview(guild, name)

        # The first thing seen: the default period, at desktop size, then on a phone.
        self.screenshot("overview-desktop")
        self.read_overview("default")
        self.screenshot("overview-desktop-full", full_page=True)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [DARK]})
        self.screenshot("overview-desktop-dark-full", full_page=True)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        self.open(f"/g/{guild}")
        self.screenshot("overview-phone")
        self.read_overview("phone")
        self.screenshot("overview-phone-full", full_page=True)
        self.open("/")
        self.screenshot("picker-phone")
        self.console("picker-phone")
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.open(f"/g/{guild}")
        self.console("default-again")

        # Periods: a click on a link; the keyboard (Tab to a link, Enter); the from/to form.
        self.choose_period_link("All time", "all", "all")
        self.open(f"/g/{guild}")
        self.console("default-again")
        stops = self.tab_until(lambda f: f["text"] == "30 days", limit=12)
        self.report["keyboard"]["overview"] = stops
        ActionChains(self.driver).send_keys(Keys.ENTER).perform()
        self.wait_for_path(lambda p: parse_qs(urlsplit(p).query).get("period") == ["30d"], "Enter on 30 days")
        self.read_overview("30d")
        self.type_date("from", plan["range"]["from"])
        self.type_date("to", plan["range"]["to"])
        self.button("Show").click()
        self.wait_for_path(lambda p: parse_qs(urlsplit(p).query).get("from") == [plan["range"]["from"]],
                           "the from/to form")
        self.read_overview("range")

        # Drill-downs, by clicks from the overview: growth and retention; a category; a channel in it.
        self.follow_from_overview("Growth and retention", f"/g/{guild}/growth")
        self.observe("growth")
        self.screenshot("growth-desktop-full", full_page=True)
        self.open(f"/g/{guild}?period=all")
        self.follow_first("Categories' pages", f"/g/{guild}/category/")
        self.read_overview("category")
        self.screenshot("category-desktop-full", full_page=True)
        self.follow_first("Channels' pages", f"/g/{guild}/c/")
        self.read_overview("channel")
        self.screenshot("channel-desktop-full", full_page=True)
        # Their own page and the settings, from the overview's links.
        self.follow_from_overview("Your own activity", f"/g/{guild}/m/")
        self.read_overview("member")
        self.screenshot("member-desktop-full", full_page=True)
        self.follow_from_overview("Settings", f"/g/{guild}/settings")
        self.observe("settings")
        self.screenshot("settings-desktop", full_page=True)

        # Log out with the button; the overview's address then leads to the login page.
        self.button("Log out").click()
        self.wait_for_path(lambda p: p == "/", "the logout")
        assert self.h1() == "Server engagement", f"the landing page after logging out, not {self.h1()!r}"
        self.link("Log in with Discord")
        self.console("logged-out")
        self.open(f"/g/{guild}")
        self.wait_for_path(lambda p: p == "/", "the overview's address to send a logged-out person to log in")
        self.link("Log in with Discord")
        self.observe("overview-logged-out")

    def outsider(self):
        guild = self.plan["guild"]
        self.log_in()
        self.observe("outsider-picker")
        self.open(f"/g/{guild}")
        self.screenshot("refused-desktop")
        self.observe("outsider-overview")

    def run(self):
        getattr(self, self.plan["scenario"])()
        self.console("end")
        return self.report

    def failed(self):
        """Keeps what the browser showed when a step failed."""
        try:
            self.console("failure")
            self.screenshot(f"failure-{self.plan['scenario']}")
            self.report["failure_url"] = self.driver.current_url
            self.report["failure_text"] = self.driver.find_element(By.TAG_NAME, "body").text[:2000]
        except Exception:  # the browser itself may be what failed
            pass

    def quit(self):
        self.driver.quit()


def main():
    plan = json.loads(sys.argv[1])
    session = Session(plan)
    try:
        report = session.run()
    except BaseException:
        session.failed()
        traceback.print_exc()
        print(json.dumps({k: session.report.get(k) for k in ("failure_url", "failure_text", "console")},
                         indent=1), file=sys.stderr)
        session.quit()
        sys.exit(1)
    session.quit()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
