"""The headless bot: logging set-up, risk rules, the jobs of the loop (:mod:`.engine`) and the process that
runs them on an APScheduler ``BlockingScheduler`` (:mod:`.runner`). ``liquidation-hunter run`` starts it."""
