# The portal has always written dates day first with a short month: keep that as the
# English default, so templates can ask for DATE_FORMAT and get each language's own.
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
MONTH_DAY_FORMAT = "j M"
