"""The paho-mqtt peer of the MQTT receive benchmark (Benchmarks/MQTTReceive.swift).

usage: mqtt_paho_sub.py PORT COUNT
Subscribes to bench/# on 127.0.0.1:PORT, prints "ready" at the first message (the retained
bench/ready), counts COUNT messages on bench/readings, prints "done" and exits.
"""
import sys

import paho.mqtt.client as mqtt

port, count = int(sys.argv[1]), int(sys.argv[2])
received = 0
ready = False


def on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe("bench/#", qos=0)


def on_message(client, userdata, message):
    global received, ready
    if message.topic == "bench/ready":
        if not ready:
            ready = True
            print("ready", flush=True)
        return
    received += 1
    if received == count:
        print("done", flush=True)
        client.disconnect()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-bench")
client.on_connect = on_connect
client.on_message = on_message
client.connect("127.0.0.1", port)
client.loop_forever()
