"""The E-step multiplies the probabilities directly (0/0 for sets of 2000 tosses).

cell: a3-e-step
hint: computed without log space
"""


def coins_e_step(heads, tosses, weights, thetas):
    joint = weights * thetas ** heads[:, None] * (1 - thetas) ** (tosses - heads)[:, None]
    return joint / joint.sum(axis=1, keepdims=True)
