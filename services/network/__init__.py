"""A neutron-like stub: ports, and the network-vif-plugged event back to nova."""
