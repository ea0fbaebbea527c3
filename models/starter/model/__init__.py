"""The built-in `starter` model's folder (model_index.json, unet/, scheduler/, mel/).

It installs as the package `cratedigger.starter_model` so that its weights travel inside the
package (editable installs and wheels alike); cratedigger.model.starter finds it from there. See
models/starter/README.md for what it is trained on and how.
"""
