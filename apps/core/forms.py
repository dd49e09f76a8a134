"""One way to draw a form field everywhere (settings.FORM_RENDERER): its label, its input, its
errors, its help, in that order, inside one ``.field`` block. Grids of fields place whole blocks,
so an error only makes its own block taller and never moves another field's parts.
``{{ form }}``, ``{{ form.as_div }}`` and ``{{ field.as_field_group }}`` all use it."""

from django.forms.renderers import DjangoTemplates


class SiteFormRenderer(DjangoTemplates):
    field_template_name = "forms/field.html"
