"""The M-step as expected heads over expected heads plus expected tails.

cell: a3-m-step
"""


def coins_m_step(heads, tosses, resp):
    expected_heads = resp.T @ heads
    expected_tails = resp.T @ (tosses - heads)
    return expected_heads / (expected_heads + expected_tails)
