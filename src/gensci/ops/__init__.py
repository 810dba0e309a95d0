"""Leaf tensor maths shared by every part of gensci. Imports only torch and numpy."""
