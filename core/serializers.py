"""The base of every API request serializer: the body is taken exactly as the schema says.

DRF drops fields it does not know and turns a number into a string for a CharField; both
would let a body the OpenAPI schema calls invalid through (`additionalProperties: false`
and `type: string` there, core/openapi.py), and so would trimming the spaces a pattern
refuses. Here an unknown field, and a string field given a number, a list or an object,
are 400 `validation_error` naming the field, and strings are validated as sent.
"""

from __future__ import annotations

from rest_framework import serializers


def _not_a_string(field: serializers.Field, value) -> bool:
    return isinstance(field, serializers.CharField) and value is not None \
        and not isinstance(value, str)


def untrimmed(fields: dict[str, serializers.Field]) -> dict[str, serializers.Field]:
    """The fields with their strings validated as sent: DRF's trimming would let " id"
    pass a pattern the schema says it breaks."""
    for field in fields.values():
        for text_field in (field, getattr(field, "child", None)):
            if isinstance(text_field, serializers.CharField):
                text_field.trim_whitespace = False
    return fields


class StrictSerializer(serializers.Serializer):
    def get_fields(self):
        return untrimmed(super().get_fields())

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name, value in data.items():
                field = self.fields.get(name)
                if field is None:
                    errors[name] = ["Unknown field."]
                elif _not_a_string(field, value):
                    errors[name] = ["Not a string."]
                elif isinstance(field, serializers.ListField) and isinstance(value, list) \
                        and any(_not_a_string(field.child, item) for item in value):
                    errors[name] = ["Every item must be a string."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
