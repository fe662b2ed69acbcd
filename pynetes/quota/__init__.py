"""Resource quota accounting shared by the resourcequota controller (and quota admission).

:mod:`pynetes.quota.amounts` adds ResourceLists as upstream's quota helpers
do (so sums print as upstream prints them); :mod:`pynetes.quota.evaluators`
says which resource each quota name tracks, what one object uses and which
objects a quota's scopes select.
"""
