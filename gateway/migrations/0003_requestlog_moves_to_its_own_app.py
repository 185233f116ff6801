# RequestLog now belongs to the requestlog app (requestlog/migrations/0001_initial.py), which keeps
# this app's table: only the model's state leaves here, the table and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('gateway', '0002_requestlog_lean_indexes'),
        ('requestlog', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RequestLog')],
            database_operations=[],
        ),
    ]
