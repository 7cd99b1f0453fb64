"""Host-side tools for the roller firmware: simulator, bench analysis, deploy, perf."""
