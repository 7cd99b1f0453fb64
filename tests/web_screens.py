"""`make screenshots`: the companion page during a session on devsim, as a desktop browser and a
phone show it (python -m tests.web_screens OUT_DIR)."""
import os
import sys
import tempfile
import time

from tests import webbrowser
from tests.webrig import Bridge, Devsim

_PLOT_S = 6  # of streamed current before the picture


def shoot(url, out_dir):
    drivers = [("desktop", webbrowser.chrome(webbrowser.DESKTOP)),
               ("phone", webbrowser.chrome(webbrowser.PHONE, phone=True))]
    try:
        for _, driver in drivers:
            driver.get(url)
        driver = drivers[0][1]  # the first page drives; the phone watches the same session
        webbrowser.wait_for(driver, lambda d: webbrowser.text(d, "state") == "OFF", what="OFF")
        driver.execute_script("return window.roller.request({cmd: 'set', level: 3})")
        driver.find_element("id", "start").click()
        webbrowser.wait_for(driver, lambda d: webbrowser.text(d, "state") == "RUN", what="RUN")
        time.sleep(_PLOT_S)
        for name, drv in drivers:
            height = drv.execute_script("return document.documentElement.scrollHeight")
            width = drv.execute_script("return window.innerWidth")
            if name == "desktop":
                drv.set_window_size(width, height + 100)
            path = os.path.join(out_dir, "companion-%s.png" % name)
            drv.save_screenshot(path)
            print(path)
    finally:
        for _, driver in drivers:
            driver.quit()


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tests.web_screens OUT_DIR\n")
        return 2
    os.makedirs(argv[0], exist_ok=True)
    with tempfile.TemporaryDirectory() as flash:
        device = Devsim(flash)
        try:
            bridge = Bridge(device.path)
            try:
                shoot(bridge.url, argv[0])
            finally:
                bridge.close()
        finally:
            device.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
