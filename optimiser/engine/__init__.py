"""The search on one day: the search model (search_model.py), screening (screening.py), first
routes (construct.py), ruin and recreate (ruin_recreate.py), OR-Tools' model and search
(ortools_search.py), OR-Tools on parts of a day (parts.py), and the whole-day solve (single.py)."""
