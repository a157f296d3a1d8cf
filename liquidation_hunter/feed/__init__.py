"""One liquidation feed for many bots over Redis Streams (issue 17, ``docs/FEED.md``): :mod:`.publisher` (``record
--publish``), :mod:`.consumer` (a bot with ``feed.source``), :mod:`.codec` (an entry's fields), :mod:`.gaps`
(what was missed, and filling it from the history store), :mod:`.client` (the connection)."""
