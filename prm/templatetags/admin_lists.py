"""``{% span_date_hierarchy cl %}``: the admin's date drill-down without a pass over the
list (``prm.admin_lists.SpanDates``); the change lists of long tables use it."""

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template import Node

from prm.admin_lists import SpanDatesChangeList

register = template.Library()


@register.tag(name="span_date_hierarchy")
def span_date_hierarchy_tag(parser, token) -> Node:
    return InclusionAdminNode(
        parser,
        token,
        func=lambda cl: date_hierarchy(SpanDatesChangeList(cl)),
        template_name="date_hierarchy.html",
        takes_context=False,
    )
