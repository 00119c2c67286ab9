# Django's zh_Hans writes "09月5日" for a month and day and groups digits by four with no
# separator; amounts in US dollars read best as "$1,234,567", and months without a zero.
MONTH_DAY_FORMAT = "n月j日"
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
