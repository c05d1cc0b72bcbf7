"""The network stack: a VPC over N availability zones, public and private subnets, one NAT.

Absent when `aws.network.existing` names a VPC: the cluster stack then gets those ids.
AZs come from Fn::GetAZs, so the template works in any region. One NAT gateway serves all
private subnets: losing its AZ stops outbound traffic until it is back, in exchange for paying
for one NAT instead of N.
"""

from __future__ import annotations

import math

from troposphere import Cidr as FnCidr
from troposphere import GetAtt, GetAZs, Join, Output, Ref, Select, Sub, Template, ec2

from heliohub.config import HubConfig
from heliohub.render.cloudformation.tagging import tags


def subnet_host_bits(vpc_cidr: str, count: int) -> int:
    """Host bits of each of `count` equal subnets carved from the VPC (Fn::Cidr's cidrBits)."""
    prefix = int(vpc_cidr.split("/")[1])
    return 32 - prefix - math.ceil(math.log2(count))


def network_template(config: HubConfig) -> Template | None:
    if config.aws.network.existing is not None:
        return None
    net = config.aws.network
    name = config.name
    zones = net.availability_zones
    t = Template(
        Description=f"heliohub {name}: VPC over {zones} availability zones, "
        "public and private subnets, NAT"
    )
    vpc = t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=net.cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=tags(config, name),
        )
    )
    igw = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=tags(config, name)))
    attach = t.add_resource(
        ec2.VPCGatewayAttachment("GatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
    )
    public_rt = t.add_resource(
        ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=tags(config, f"{name}-public"))
    )
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=attach.title,
            RouteTableId=Ref(public_rt),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )
    private_rt = t.add_resource(
        ec2.RouteTable("PrivateRouteTable", VpcId=Ref(vpc), Tags=tags(config, f"{name}-private"))
    )
    cidrs = FnCidr(GetAtt(vpc, "CidrBlock"), 2 * zones, subnet_host_bits(net.cidr, 2 * zones))
    public, private = [], []
    for i in range(zones):
        az = Select(i, GetAZs(Ref("AWS::Region")))
        pub = t.add_resource(
            ec2.Subnet(
                f"PublicSubnet{i}",
                VpcId=Ref(vpc),
                AvailabilityZone=az,
                CidrBlock=Select(i, cidrs),
                MapPublicIpOnLaunch=True,
                # Where the AWS load balancer integration puts internet-facing LBs.
                Tags=tags(config, f"{name}-public-{i}", {"kubernetes.io/role/elb": "1"}),
            )
        )
        priv = t.add_resource(
            ec2.Subnet(
                f"PrivateSubnet{i}",
                VpcId=Ref(vpc),
                AvailabilityZone=az,
                CidrBlock=Select(zones + i, cidrs),
                Tags=tags(config, f"{name}-private-{i}", {"kubernetes.io/role/internal-elb": "1"}),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{i}Routes", SubnetId=Ref(pub), RouteTableId=Ref(public_rt)
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{i}Routes", SubnetId=Ref(priv), RouteTableId=Ref(private_rt)
            )
        )
        public.append(pub)
        private.append(priv)
    eip = t.add_resource(
        ec2.EIP("NatAddress", Domain="vpc", DependsOn=attach.title, Tags=tags(config, name))
    )
    nat = t.add_resource(
        ec2.NatGateway(
            "NatGateway",
            AllocationId=GetAtt(eip, "AllocationId"),
            SubnetId=Ref(public[0]),
            Tags=tags(config, name),
        )
    )
    t.add_resource(
        ec2.Route(
            "PrivateDefaultRoute",
            RouteTableId=Ref(private_rt),
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=Ref(nat),
        )
    )
    # S3 traffic (science data, mostly) goes through a free gateway endpoint instead of the NAT,
    # which charges per GB.
    t.add_resource(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(private_rt), Ref(public_rt)],
            Tags=tags(config, f"{name}-s3"),
        )
    )
    t.add_output(Output("VpcId", Value=Ref(vpc)))
    t.add_output(Output("VpcCidr", Value=GetAtt(vpc, "CidrBlock")))
    t.add_output(Output("PrivateSubnetIds", Value=Join(",", [Ref(s) for s in private])))
    t.add_output(Output("PublicSubnetIds", Value=Join(",", [Ref(s) for s in public])))
    return t
