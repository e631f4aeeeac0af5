# supervisor layer: policy parser (W-10.5.a) and what consumers take from
# ConsumerConfig and ControlResponse (W-15.17.a, W-P1..W-P4).
tp_add_test(supervisor_policy_test SOURCES unit/supervisor_policy_test.c LABELS supervisor)
tp_add_test(consumer_control_test SOURCES unit/consumer_control_test.c LABELS supervisor client)
