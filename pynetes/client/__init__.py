"""pynetes.client: how every component reaches the cluster, as client-go is for Kubernetes'.

A REST client with kubeconfig loading, typed errors, retries and client-side
rate limits; watches that resume; informers (reflector, indexed store, shared
factory); work queues; leader election; an event recorder.
"""
