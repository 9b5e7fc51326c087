"""The local live dashboard (Streamlit): app.py is the page, data.py what it shows."""
