from django.db import migrations


def load(apps, schema_editor):
    from blog.posts import load_launch_posts

    load_launch_posts(apps.get_model("blog", "Entry"), apps.get_model("blog", "Tag"))


class Migration(migrations.Migration):
    dependencies = [("blog", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
